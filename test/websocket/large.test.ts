/**
 * Large WebSocket messages end to end, on the Fetch and the ASGI-style
 * gateways, with real clients over real sockets: the `ws` package (single
 * frames, fragments, permessage-deflate with and without context takeover)
 * and a raw socket that writes a message in 64-byte TCP pieces. Every echoed
 * byte is compared. Also: one byte over `--ws-max-size` closes with 1009, in
 * one frame and in fragments, and a server in a child process reports its
 * memory while a 16 MiB message is half-way in.
 *
 * Issue 12: a message bigger than what the session let the core buffer
 * (64 KiB) was never delivered; reading stopped while the core waited for
 * the rest of the message.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import WebSocket from "ws";
import echoFetch from "../../examples/ws_echo.ts";
import type { Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
import { startServer } from "../helpers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
/** Bounds hangs only (a 16 MiB echo takes well under a second on an idle machine). */
const TIMEOUT = 120_000;

// ---- data ---------------------------------------------------------------------------------

/** xorshift32: cheap, deterministic bytes. */
function prng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** `n` pseudo-random bytes (incompressible). */
function binaryData(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  const next = prng(seed);
  const words = n >>> 2;
  const u32 = new Uint32Array(out.buffer, out.byteOffset, words);
  for (let i = 0; i < words; i++) u32[i] = next();
  for (let i = words << 2; i < n; i++) out[i] = next() & 0xff;
  return out;
}

const ALPHABET = Buffer.from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_");

/** `n` bytes of UTF-8 text (compressible; a 2-byte and a 3-byte character now and then, so fragments split characters). */
function textBytes(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  const next = prng(seed);
  let i = 0;
  while (i < n) {
    const r = next();
    if ((r & 0x3f) === 0 && i + 3 <= n) {
      out[i++] = 0xe2; // ✓ U+2713
      out[i++] = 0x9c;
      out[i++] = 0x93;
    } else if ((r & 0x3f) === 1 && i + 2 <= n) {
      out[i++] = 0xc3; // é
      out[i++] = 0xa9;
    } else {
      out[i++] = ALPHABET[(r >>> 8) % ALPHABET.length]!;
    }
  }
  return out;
}

/** Asserts two buffers are equal without printing megabytes. */
function sameBytes(got: Buffer, expected: Buffer, what: string): void {
  if (got.equals(expected)) return;
  let i = 0;
  const n = Math.min(got.length, expected.length);
  while (i < n && got[i] === expected[i]) i++;
  assert.fail(`${what}: got ${got.length} bytes, expected ${expected.length}; first difference at ${i}`);
}

// ---- servers ------------------------------------------------------------------------------

/** An ASGI-style echo app: text as text, bytes as bytes. */
async function echoAsgi(scope: Scope, receive: Receive, send: Send): Promise<void> {
  if (scope.type !== "websocket") return;
  await receive();
  await send({ type: "websocket.accept" });
  for (;;) {
    const event = await receive();
    if (event.type !== "websocket.receive") return;
    if (typeof event.text === "string") await send({ type: "websocket.send", text: event.text });
    else await send({ type: "websocket.send", bytes: event.bytes! });
  }
}

type Started = Awaited<ReturnType<typeof startServer>>;

const GATEWAYS = [
  { name: "Fetch", app: echoFetch, options: { interface: "fetch" as const } },
  { name: "ASGI-style", app: echoAsgi, options: { interface: "asgi" as const, lifespan: "off" as const } },
];

// ---- the ws client ------------------------------------------------------------------------

type Deflate = false | "takeover" | "no-takeover";

function deflateOption(deflate: Deflate): WebSocket.ClientOptions["perMessageDeflate"] {
  if (deflate === false) return false;
  if (deflate === "takeover") return { threshold: 0 };
  return { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true };
}

async function openWs(port: number, deflate: Deflate): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
    perMessageDeflate: deflateOption(deflate),
    maxPayload: 64 * MiB,
  });
  let agreed = "";
  ws.once("upgrade", (res) => {
    agreed = String(res.headers["sec-websocket-extensions"] ?? "");
  });
  await once(ws, "open");
  if (deflate === false) assert.equal(agreed, "");
  else assert.match(agreed, /permessage-deflate/);
  if (deflate === "no-takeover") assert.match(agreed, /server_no_context_takeover/);
  return ws;
}

interface Message {
  data: Buffer;
  binary: boolean;
}

/** The next `count` messages, or the close if it comes first. */
function receive(ws: WebSocket, count: number): Promise<Message[]> {
  return new Promise((resolve, reject) => {
    const got: Message[] = [];
    const onMessage = (data: Buffer, binary: boolean) => {
      got.push({ data, binary });
      if (got.length === count) {
        ws.off("message", onMessage);
        ws.off("close", onClose);
        resolve(got);
      }
    };
    const onClose = (code: number) => reject(new Error(`closed with ${code} after ${got.length} messages`));
    ws.on("message", onMessage);
    ws.on("close", onClose);
  });
}

/** Sends `payload` as one message in fragments of `size` bytes (one frame when size is 0). */
function sendMessage(ws: WebSocket, payload: Buffer, binary: boolean, size = 0): void {
  if (size === 0 || payload.length <= size) {
    ws.send(payload, { binary });
    return;
  }
  for (let at = 0; at < payload.length; at += size) {
    const end = Math.min(at + size, payload.length);
    ws.send(payload.subarray(at, end), { binary, fin: end === payload.length });
  }
}

/** Sends each payload and checks the echoes, byte for byte and kind for kind. */
async function echo(
  port: number,
  deflate: Deflate,
  payloads: Buffer[],
  binary: boolean,
  fragment = 0,
): Promise<void> {
  const ws = await openWs(port, deflate);
  try {
    const got = receive(ws, payloads.length);
    for (const p of payloads) sendMessage(ws, p, binary, fragment);
    const echoes = await got;
    echoes.forEach((m, i) => {
      assert.equal(m.binary, binary, `message ${i} kind`);
      sameBytes(m.data, payloads[i]!, `message ${i}`);
    });
    ws.close(1000);
    await once(ws, "close");
  } finally {
    ws.terminate();
  }
}

/** Sends one message over `limit` and expects the server to close with 1009. */
async function expectTooBig(
  port: number,
  payload: Buffer,
  fragment: number,
  deflate: Deflate = false,
  binary = true,
): Promise<void> {
  const ws = await openWs(port, deflate);
  try {
    ws.on("error", () => {}); // the server may reset while the client is still writing
    const closed = once(ws, "close");
    sendMessage(ws, payload, binary, fragment);
    const [code] = await closed;
    assert.equal(code, 1009);
  } finally {
    ws.terminate();
  }
}

// ---- a raw client, for TCP pieces ---------------------------------------------------------

/** RFC 7692 §7.2.1: the tail a compressed message ends with, removed on the wire. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One masked client frame (RFC 6455 §5.2). */
function clientFrame(first: number, payload: Buffer): Buffer {
  const n = payload.length;
  const extra = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const out = Buffer.allocUnsafe(2 + extra + 4 + n);
  out[0] = first;
  if (extra === 0) out[1] = 0x80 | n;
  else if (extra === 2) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  const key = randomBytes(4);
  const k = 2 + extra;
  key.copy(out, k);
  for (let i = 0; i < n; i++) out[k + 4 + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

/** A socket that reads exact byte counts without copying on every chunk. */
class RawPeer {
  private chunks: Buffer[] = [];
  private size = 0;
  private wake: (() => void) | null = null;
  private ended = false;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.size += chunk.length;
      this.wake?.();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on("error", () => {});
  }

  static async open(port: number, extensions: string): Promise<RawPeer> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.setNoDelay(true);
    const peer = new RawPeer(socket);
    const ext = extensions === "" ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`;
    socket.write(
      "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n${ext}\r\n`,
    );
    let head = "";
    while (!head.endsWith("\r\n\r\n")) head += (await peer.read(1)).toString("latin1");
    assert.match(head, /^HTTP\/1\.1 101 /);
    if (extensions !== "") assert.match(head, /permessage-deflate/i);
    return peer;
  }

  /** Exactly `n` bytes; rejects if the connection ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.size < n) {
      if (this.ended) throw new Error(`connection closed with ${this.size} of ${n} bytes`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.size -= n;
    return all.subarray(0, n);
  }

  /** The next frame from the server (unmasked, as a server sends). */
  async frame(): Promise<{ first: number; payload: Buffer }> {
    const h = await this.read(2);
    let len = h[1]! & 0x7f;
    if (len === 126) len = (await this.read(2)).readUInt16BE(0);
    else if (len === 127) len = Number((await this.read(8)).readBigUInt64BE(0));
    return { first: h[0]!, payload: Buffer.from(await this.read(len)) };
  }
}

/**
 * Writes one message as a single frame in 64-byte TCP pieces (no Nagle,
 * each write its own turn of the event loop) and checks the echo. With
 * `compress`, the message is deflated on its own (a fresh context is valid
 * with or without context takeover), and so is the server's first echo.
 */
async function rawEcho(
  port: number,
  payload: Buffer,
  compress: false | "takeover" | "no-takeover",
): Promise<void> {
  const offer =
    compress === false
      ? ""
      : compress === "takeover"
        ? "permessage-deflate"
        : "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  const peer = await RawPeer.open(port, offer);
  try {
    let wire: Buffer;
    if (compress === false) wire = clientFrame(0x82, payload);
    else {
      const z = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
      assert.ok(z.subarray(z.length - 4).equals(DEFLATE_TAIL));
      wire = clientFrame(0xc2, z.subarray(0, z.length - 4));
    }
    for (let at = 0; at < wire.length; at += 64) {
      peer.socket.write(wire.subarray(at, at + 64));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const f = await peer.frame();
    assert.equal(f.first & 0x0f, 2, "a binary message comes back");
    assert.equal((f.first & 0x80) !== 0, true, "in one frame");
    const compressed = (f.first & 0x40) !== 0;
    assert.equal(compressed, compress !== false);
    const data = compressed
      ? inflateRawSync(Buffer.concat([f.payload, DEFLATE_TAIL]), { finishFlush: constants.Z_SYNC_FLUSH })
      : f.payload;
    sameBytes(data, payload, "echo of the 64-byte pieces");
  } finally {
    peer.socket.destroy();
  }
}

// ---- tests --------------------------------------------------------------------------------

const SIZES = [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB];
const FRAGMENTS = [64, 256, 4 * KiB, 64 * KiB];
const label = (n: number) => (n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`);

for (const gw of GATEWAYS) {
  describe(`large messages, ${gw.name} gateway`, { timeout: 10 * TIMEOUT }, () => {
    let s: Started;
    before(async () => {
      s = await startServer(gw.app, { ...gw.options, accessLog: false, wsPerMessageDeflate: true });
    });
    after(() => s.server.close(500));

    describe("without compression", () => {
      for (const size of SIZES) {
        test(`one ${label(size)} text message in one frame`, { timeout: TIMEOUT }, async () => {
          await echo(s.port, false, [textBytes(size, size)], false);
        });
        test(`one ${label(size)} binary message in one frame`, { timeout: TIMEOUT }, async () => {
          await echo(s.port, false, [binaryData(size, size + 1)], true);
        });
      }
      test("the sizes around the old stall: 131,058 and 131,059 bytes", { timeout: TIMEOUT }, async () => {
        await echo(s.port, false, [binaryData(131_058, 1), binaryData(131_059, 2)], true);
        await echo(s.port, false, [textBytes(131_058, 3), textBytes(131_059, 4)], false);
      });
      for (const size of FRAGMENTS) {
        test(`a 4 MiB binary message in fragments of ${label(size)}`, { timeout: TIMEOUT }, async () => {
          await echo(s.port, false, [binaryData(4 * MiB, size)], true, size);
        });
      }
      test("a 4 MiB text message in fragments of 256 B (characters split across fragments)", {
        timeout: TIMEOUT,
      }, async () => {
        await echo(s.port, false, [textBytes(4 * MiB, 7)], false, 256);
      });
      test("a 1 MiB message written in 64-byte TCP pieces", { timeout: TIMEOUT }, async () => {
        await rawEcho(s.port, binaryData(1 * MiB, 9), false);
      });
      test("one byte over --ws-max-size (16 MiB) in one frame: 1009", { timeout: TIMEOUT }, async () => {
        await expectTooBig(s.port, binaryData(16 * MiB + 1, 10), 0);
      });
      test("one byte over --ws-max-size (16 MiB) in 1 MiB fragments: 1009", {
        timeout: TIMEOUT,
      }, async () => {
        await expectTooBig(s.port, binaryData(16 * MiB + 1, 11), 1 * MiB);
      });
    });

    for (const deflate of ["takeover", "no-takeover"] as const) {
      describe(`with permessage-deflate, ${deflate === "takeover" ? "context takeover" : "no context takeover"}`, () => {
        for (const size of [64 * KiB, 1 * MiB, 4 * MiB]) {
          test(`one ${label(size)} text message in one frame`, { timeout: TIMEOUT }, async () => {
            await echo(s.port, deflate, [textBytes(size, size + 2)], false);
          });
        }
        test("two 1 MiB binary messages in one frame each", { timeout: TIMEOUT }, async () => {
          await echo(s.port, deflate, [binaryData(1 * MiB, 12), binaryData(1 * MiB, 13)], true);
        });
        // The client compresses each fragment on its own (a zlib call apiece): 1 MiB in 256 B is plenty.
        for (const [total, size] of [
          [1 * MiB, 256],
          [4 * MiB, 64 * KiB],
        ] as const) {
          test(`a ${label(total)} text message in fragments of ${label(size)}`, {
            timeout: TIMEOUT,
          }, async () => {
            await echo(s.port, deflate, [textBytes(total, size + 3)], false, size);
          });
        }
        for (const size of [256, 1 * KiB]) {
          test(`four 131,072-character text messages in fragments of ${label(size)}`, {
            timeout: TIMEOUT,
          }, async () => {
            const texts = [0, 1, 2, 3].map((i) => textBytes(131_072, 20 + i));
            await echo(s.port, deflate, texts, false, size);
          });
        }
        test("a 1 MiB message written in 64-byte TCP pieces", { timeout: TIMEOUT }, async () => {
          await rawEcho(s.port, binaryData(1 * MiB, 14), deflate);
        });
        if (deflate === "takeover") {
          test("one byte over --ws-max-size once inflated (16 MiB + 1 of text, compressed): 1009", {
            timeout: TIMEOUT,
          }, async () => {
            await expectTooBig(s.port, textBytes(16 * MiB + 1, 16), 0, deflate, false);
          });
        }
      });
    }
    if (gw.name === "Fetch") {
      test("with permessage-deflate: one 16 MiB text message", { timeout: TIMEOUT }, async () => {
        await echo(s.port, "takeover", [textBytes(16 * MiB, 15)], false);
      });
    }
  });
}

// ---- memory -------------------------------------------------------------------------------

interface Memory {
  heap: number;
  buffers: number;
  rss: number;
}

async function measure(port: number): Promise<Memory> {
  const res = await fetch(`http://127.0.0.1:${port}/mem`);
  return (await res.json()) as Memory;
}

/**
 * Headroom over the message itself: the socket's read chunks, the parts of
 * the message being gathered that are not yet garbage-collected-and-reused,
 * and allocator slack. The message is 16 MiB; without a bound the server
 * would hold several times that (or, as before the fix, never finish).
 */
const BUFFER_SLACK = 4 * MiB;
const HEAP_SLACK = 4 * MiB;
const RSS_SLACK = 32 * MiB;

for (const mode of ["fetch", "asgi"]) {
  test(`memory while a 16 MiB message arrives, ${mode === "fetch" ? "Fetch" : "ASGI-style"} gateway, server in a child process`, {
    timeout: TIMEOUT,
  }, async (t) => {
    const script = fileURLToPath(new URL("./large-memory-server.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, mode], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let peer: RawPeer | null = null;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once("exit", (code) => reject(new Error(`memory server exited with ${code}`)));
      });
      peer = await RawPeer.open(port, "");
      // Warm up: one small echo, then the baseline.
      peer.socket.write(clientFrame(0x82, Buffer.from("warm")));
      assert.equal((await peer.frame()).payload.toString(), "warm");
      const base = await measure(port);

      // All of the message but its last 64 KiB, in 1 MiB fragments, then a
      // ping: its pong says the server has read everything before it.
      const total = 16 * MiB;
      const payload = binaryData(total, 99);
      const piece = 1 * MiB;
      for (let at = 0; at < total - 64 * KiB; at += piece) {
        const end = Math.min(at + piece, total - 64 * KiB);
        const first = at === 0 ? 0x02 : 0x00;
        if (!peer.socket.write(clientFrame(first, payload.subarray(at, end))))
          await once(peer.socket, "drain");
      }
      peer.socket.write(clientFrame(0x89, Buffer.from("mid")));
      const pong = await peer.frame();
      assert.equal(pong.first, 0x8a);
      const mid = await measure(port);

      peer.socket.write(clientFrame(0x80, payload.subarray(total - 64 * KiB)));
      const echoed = await peer.frame();
      assert.equal(echoed.first, 0x82);
      sameBytes(echoed.payload, payload, "16 MiB echo");

      const held = {
        heap: mid.heap - base.heap,
        buffers: mid.buffers - base.buffers,
        rss: mid.rss - base.rss,
      };
      const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
      t.diagnostic(
        `15.9 MiB of a 16 MiB message held: heap +${mib(held.heap)}, buffers +${mib(held.buffers)}, RSS +${mib(held.rss)}`,
      );
      assert.ok(held.heap < HEAP_SLACK, `heap grew by ${mib(held.heap)}`);
      assert.ok(held.buffers < total + BUFFER_SLACK, `buffers grew by ${mib(held.buffers)}`);
      assert.ok(held.rss < total + RSS_SLACK, `RSS grew by ${mib(held.rss)}`);
    } finally {
      peer?.socket.destroy();
      child.kill();
    }
  });
}
