/**
 * Property-based and mutation fuzzing (fast-check) of the sans-IO WebSocket
 * core, in server and client mode, with and without permessage-deflate.
 *
 * - Round trip: what one side's send*() produced parses on the other side to
 *   the same messages, pings, pongs and close, however the bytes are split
 *   (client → server and server → client).
 * - Hostile input: hand-built frames with random opcodes, flags, lengths,
 *   masks and fragmentation, valid streams with bytes mutated, compressed
 *   garbage and deflate bombs: the core throws nothing but
 *   WebSocketProtocolError, makes progress, holds at most maxMessageSize plus
 *   one frame header and one piece, and reports the same events however the
 *   bytes are split.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { deflateRawSync } from "node:zlib";
import fc from "fast-check";
import { WebSocketCore } from "../../src/websocket/core.ts";
import { type DeflateParams, negotiateDeflate } from "../../src/websocket/deflate.ts";
import { WebSocketProtocolError } from "../../src/websocket/errors.ts";
import { WS_NEED_DATA } from "../../src/websocket/events.ts";
import { budget, checkProperty } from "./support.ts";

const MS = budget(400);
/** Small, so the fuzzers reach the message size limit often. */
const MAX_MESSAGE = 4096;
/** Longest frame header (2 + 8 length + 4 mask) plus the largest control payload a core holds whole. */
const HELD_SLACK = 14 + 125;

type Seen =
  | { type: "text"; data: string }
  | { type: "binary" | "ping" | "pong"; data: string }
  | { type: "close"; code: number; reason: string };

interface WsTranscript {
  events: Seen[];
  end: string;
}

const DEFLATE: DeflateParams = negotiateDeflate("permessage-deflate; client_max_window_bits")!.params;

function core(client: boolean, deflate: DeflateParams | null, maxMessageSize = MAX_MESSAGE): WebSocketCore {
  return new WebSocketCore({ client, deflate, maxMessageSize, compressionThreshold: 64 });
}

/**
 * Feeds a copy of `input` (the core unmasks in place) to `receiver` cut at
 * `cuts`, and records what comes out. Checks progress and the held-bytes bound
 * on the way; anything thrown but WebSocketProtocolError propagates.
 */
function wsTranscript(receiver: WebSocketCore, input: Uint8Array, cuts: number[]): WsTranscript {
  const bytes = Buffer.from(input);
  const events: Seen[] = [];
  const maxSteps = 4 * (bytes.length + 16);
  let steps = 0;
  let from = 0;
  try {
    for (const cut of [...cuts, bytes.length]) {
      if (cut <= from) continue;
      const piece = bytes.subarray(from, cut);
      from = cut;
      receiver.receiveData(piece);
      for (;;) {
        assert.ok(++steps <= maxSteps, "the core made no progress");
        const ev = receiver.nextEvent();
        if (ev === WS_NEED_DATA) {
          assert.ok(
            receiver.bufferedBytes <= receiver.maxMessageSize + HELD_SLACK + piece.length,
            `holds ${receiver.bufferedBytes} bytes with maxMessageSize ${receiver.maxMessageSize}`,
          );
          break;
        }
        if (ev.type === "text") events.push({ type: "text", data: ev.data });
        else if (ev.type === "close") {
          events.push({ type: "close", code: ev.code, reason: ev.reason });
          return { events, end: "closed" };
        } else events.push({ type: ev.type, data: Buffer.from(ev.data).toString("hex") });
      }
    }
  } catch (err) {
    // The close code is what the peer sees. The error code (and the close
    // reason, its message) may differ with the split when one message has two
    // faults: bad deflate data after bytes that inflate to invalid UTF-8 is
    // "not UTF-8" when read in pieces and "bad compression" when whole; both 1007.
    if (err instanceof WebSocketProtocolError) return { events, end: `error ${err.closeCode}` };
    throw err;
  } finally {
    receiver.dispose();
  }
  return { events, end: "open" };
}

function cutsFor(n: number): fc.Arbitrary<number[]> {
  return fc.array(fc.nat({ max: Math.max(n, 1) }), { maxLength: 24 }).map((c) => c.sort((a, b) => a - b));
}

// ---- round trip --------------------------------------------------------------------

type Op =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping" | "pong"; data: Uint8Array };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ type: fc.constant("text" as const), data: fc.string({ unit: "binary", maxLength: 300 }) }),
  fc.record({ type: fc.constant("text" as const), data: fc.constantFrom("a".repeat(200), "é".repeat(1500)) }),
  fc.record({ type: fc.constant("binary" as const), data: fc.uint8Array({ maxLength: 2000 }) }),
  fc.record({
    type: fc.constantFrom("ping" as const, "pong" as const),
    data: fc.uint8Array({ maxLength: 125 }),
  }),
);
const closing = fc.option(
  fc.record({
    code: fc.oneof(
      fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1011),
      fc.integer({ min: 3000, max: 4999 }),
    ),
    reason: fc.string({ unit: "binary-ascii", maxLength: 40 }),
  }),
);

function roundTrip(fromClient: boolean, deflate: boolean) {
  return fc.property(
    fc.tuple(fc.array(op, { maxLength: 8 }), closing).chain(([ops, close]) => {
      const sender = core(fromClient, deflate ? DEFLATE : null);
      const parts: Uint8Array[] = [];
      const expected: Seen[] = [];
      for (const o of ops) {
        if (o.type === "text") {
          parts.push(...sender.sendText(o.data));
          expected.push({ type: "text", data: o.data });
        } else if (o.type === "binary") {
          parts.push(...sender.sendBinary(o.data));
          expected.push({ type: "binary", data: Buffer.from(o.data).toString("hex") });
        } else {
          parts.push(o.type === "ping" ? sender.sendPing(o.data) : sender.sendPong(o.data));
          expected.push({ type: o.type, data: Buffer.from(o.data).toString("hex") });
        }
      }
      if (close !== null) {
        parts.push(sender.sendClose(close.code, close.reason));
        expected.push({ type: "close", code: close.code, reason: close.reason });
      }
      sender.dispose();
      const bytes = Buffer.concat(parts);
      const want: WsTranscript = { events: expected, end: close !== null ? "closed" : "open" };
      return fc.tuple(fc.constant({ bytes, want }), cutsFor(bytes.length));
    }),
    ([{ bytes, want }, cuts]) => {
      const receiver = () => core(!fromClient, deflate ? DEFLATE : null, 1 << 20);
      assert.deepEqual(wsTranscript(receiver(), bytes, []), want);
      assert.deepEqual(wsTranscript(receiver(), bytes, cuts), want);
    },
  );
}

for (const [fromClient, deflate] of [
  [true, false],
  [false, false],
  [true, true],
  [false, true],
] as const) {
  const name = `${fromClient ? "client → server" : "server → client"}${deflate ? ", permessage-deflate" : ""}`;
  test(`round trip ${name}: the same messages come out, however the bytes are split`, (t) => {
    const runs = checkProperty(`round trip ${name}`, roundTrip(fromClient, deflate), MS / 2);
    t.diagnostic(`${runs} streams`);
  });
}

// ---- hostile frames ------------------------------------------------------------------

interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  mask: boolean;
  /** 0: minimal length encoding, 1: 16-bit, 2: 64-bit, 3: a huge 64-bit length with few bytes behind it. */
  lengthForm: number;
  payload: Uint8Array;
}

function encodeFrame(f: RawFrame, key: number[]): Buffer {
  const len = f.payload.length;
  const head: number[] = [(f.fin ? 0x80 : 0) | ((f.rsv & 7) << 4) | (f.opcode & 0x0f)];
  const m = f.mask ? 0x80 : 0;
  if (f.lengthForm === 3) {
    head.push(m | 127, 0, 0, 0, 0x10, 0, 0, 0, 0);
  } else if (f.lengthForm === 2 || (f.lengthForm === 0 && len >= 0x10000)) {
    head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  } else if (f.lengthForm === 1 || len >= 126) {
    head.push(m | 126, (len >>> 8) & 0xff, len & 0xff);
  } else {
    head.push(m | len);
  }
  const payload = Buffer.from(f.payload);
  if (f.mask) {
    head.push(...key);
    for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i & 3]!;
  }
  return Buffer.concat([Buffer.from(head), payload]);
}

/** Mostly plausible frames (right mask for the direction, known opcodes), some not. */
function rawFrame(toServer: boolean): fc.Arbitrary<RawFrame> {
  return fc.record({
    fin: fc.boolean(),
    rsv: fc.oneof(fc.constant(0), fc.constant(0), fc.constant(4), fc.integer({ min: 0, max: 7 })),
    opcode: fc.oneof(fc.constantFrom(0, 1, 2, 8, 9, 10), fc.integer({ min: 0, max: 15 })),
    mask: fc.oneof(fc.constant(toServer), fc.constant(toServer), fc.boolean()),
    lengthForm: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 3 })),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom(
        Buffer.from([0x03, 0xe8]),
        Buffer.from([0x03, 0xed]),
        Buffer.from([0x03, 0xe8, 0xc3, 0x28]),
        Buffer.from("ed9fbf", "hex"),
        Buffer.from("eda080", "hex"),
        Buffer.alloc(5000, 0x61),
        deflateRawSync(Buffer.alloc(100_000)).subarray(0, -4), // a deflate bomb: 100 kB from a few hundred bytes
        deflateRawSync(Buffer.from("hello")),
      ),
    ),
  });
}

const BYTES = [0x00, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8a, 0x7e, 0x7f, 0xfe, 0xff, 0xc1, 0x01];
const mutations = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.integer({ min: 0, max: 2 }),
    byte: fc.oneof(fc.constantFrom(...BYTES), fc.nat(255)),
  }),
  { minLength: 1, maxLength: 4 },
);

function mutate(input: Buffer, ms: { at: number; op: number; byte: number }[]): Buffer {
  let buf = Buffer.from(input);
  for (const m of ms) {
    const pos = m.at % (buf.length + 1);
    if (m.op === 0 && buf.length > 0) buf[pos % buf.length] = m.byte;
    else if (m.op === 1)
      buf = Buffer.concat([buf.subarray(0, pos), Buffer.from([m.byte]), buf.subarray(pos)]);
    else buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + 1 + (m.byte % 4))]);
  }
  return buf;
}

/** A valid stream from the other side (as in the round trip), to be mutated. */
function validStream(fromClient: boolean, deflate: boolean): fc.Arbitrary<Buffer> {
  return fc.array(op, { minLength: 1, maxLength: 5 }).map((ops) => {
    const sender = core(fromClient, deflate ? DEFLATE : null);
    const parts: Uint8Array[] = [];
    for (const o of ops) {
      if (o.type === "text") parts.push(...sender.sendText(o.data));
      else if (o.type === "binary") parts.push(...sender.sendBinary(o.data));
      else parts.push(o.type === "ping" ? sender.sendPing(o.data) : sender.sendPong(o.data));
    }
    sender.dispose();
    return Buffer.concat(parts);
  });
}

const key = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));

for (const server of [true, false]) {
  for (const deflate of [false, true]) {
    const name = `${server ? "server" : "client"} mode${deflate ? ", permessage-deflate" : ""}`;
    test(`hostile frames, ${name}: only WebSocketProtocolError, progress, bounded memory, split-independent`, (t) => {
      const input = fc.oneof(
        fc
          .tuple(fc.array(rawFrame(server), { maxLength: 8 }), key)
          .map(([frames, k]) => Buffer.concat(frames.map((f) => encodeFrame(f, k)))),
        fc.tuple(validStream(server, deflate), mutations).map(([b, m]) => mutate(b, m)),
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      );
      const runs = checkProperty(
        `hostile frames, ${name}`,
        fc.property(
          input.chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length))),
          ([bytes, cuts]) => {
            const whole = wsTranscript(core(!server, deflate ? DEFLATE : null), bytes, []);
            assert.deepEqual(wsTranscript(core(!server, deflate ? DEFLATE : null), bytes, cuts), whole);
          },
        ),
        MS / 2,
      );
      t.diagnostic(`${runs} inputs`);
    });
  }
}

test("the fuzzers' bounds bite: a deflate bomb is 1009, an over-long frame is 1009 before its payload arrives", () => {
  const server = () => core(false, DEFLATE);
  const bomb = encodeFrame(
    {
      fin: true,
      rsv: 4,
      opcode: 2,
      mask: true,
      lengthForm: 0,
      payload: deflateRawSync(Buffer.alloc(1_000_000)).subarray(0, -4),
    },
    [1, 2, 3, 4],
  );
  assert.ok(bomb.length < 2000);
  assert.equal(wsTranscript(server(), bomb, []).end, "error 1009");
  const header = encodeFrame(
    { fin: true, rsv: 0, opcode: 2, mask: true, lengthForm: 2, payload: Buffer.alloc(0) },
    [1, 2, 3, 4],
  );
  header.writeUInt32BE(MAX_MESSAGE + 1, 6);
  assert.equal(wsTranscript(server(), header, []).end, "error 1009");
  // Fragments that add up past the limit are refused at the fragment that crosses it.
  const frag = (fin: boolean, opcode: number) =>
    encodeFrame(
      { fin, rsv: 0, opcode, mask: true, lengthForm: 0, payload: Buffer.alloc(1500, 0x61) },
      [9, 9, 9, 9],
    );
  const fragments = Buffer.concat([frag(false, 1), frag(false, 0), frag(false, 0), frag(true, 0)]);
  assert.equal(wsTranscript(server(), fragments, [100, 2000]).end, "error 1009");
});

test("found by the fuzzer: compressed text that is invalid UTF-8 before its inflated size passes the limit is 1007, however it is split", () => {
  // Whole, the inflater passed the limit in one call and the core answered
  // 1009 without looking at the bytes before it; in pieces those bytes came
  // first and were 1007. The bytes up to the limit are now checked first.
  const bytes = Buffer.from([
    193, 24, 236, 194, 49, 13, 0, 0, 0, 2, 160, 254, 81, 204, 97, 49, 107, 120, 48, 104, 2, 10, 0, 0, 2, 156,
    27, 0, 137, 5, 0, 41, 236, 165, 204,
  ]);
  const cuts = [8, 9, 14, 21, 21, 21, 24, 28, 31, 31];
  const whole = wsTranscript(core(true, DEFLATE), bytes, []);
  assert.deepEqual(wsTranscript(core(true, DEFLATE), bytes, cuts), whole);
  for (let i = 1; i < bytes.length; i++)
    assert.deepEqual(wsTranscript(core(true, DEFLATE), bytes, [i]), whole, `cut at ${i}`);
});
