/**
 * Helpers for the WebSocket core tests: frames built by hand, byte by byte,
 * so a test can produce every malformed header the core must refuse.
 */

import assert from "node:assert/strict";
import {
  WebSocketCore,
  type WebSocketErrorCode,
  type WebSocketEvent,
  WebSocketProtocolError,
  WS_NEED_DATA,
} from "../../src/websocket/index.ts";

/** A fixed masking key, so expected bytes can be written down. */
export const KEY = [0x37, 0xfa, 0x21, 0x3d] as const;

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  /** RSV bits as the 3-bit value 0–7 (4 = RSV1). */
  rsv?: number;
  /** Mask with KEY (the default, as a client must), or not. */
  mask?: boolean;
  /** Force the length encoding: 7, 16 or 64 bits (default minimal). */
  lengthBits?: 7 | 16 | 64;
  /** Override the 64-bit length field's top 32 bits (for the top-bit and huge-length cases). */
  declaredHigh?: number;
}

/** One frame as a client sends it. */
export function frame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === "string" ? Buffer.from(spec.payload) : Buffer.from(spec.payload ?? []);
  const mask = spec.mask ?? true;
  const len = payload.length;
  const bits = spec.lengthBits ?? (len < 126 ? 7 : len < 0x10000 ? 16 : 64);
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const maskBit = mask ? 0x80 : 0;
  if (bits === 7) head.push(maskBit | len);
  else if (bits === 16) head.push(maskBit | 126, len >>> 8, len & 0xff);
  else {
    const hi = spec.declaredHigh ?? Math.floor(len / 2 ** 32);
    head.push(maskBit | 127, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff);
    head.push(len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  if (mask) head.push(...KEY);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i]! ^= KEY[i & 3]!;
  return Buffer.concat([Buffer.from(head), body]);
}

export const text = (s: string | Uint8Array, more: Partial<FrameSpec> = {}) =>
  frame({ opcode: 1, payload: s, ...more });
export const binary = (b: Uint8Array | string, more: Partial<FrameSpec> = {}) =>
  frame({ opcode: 2, payload: b, ...more });
export const cont = (b: Uint8Array | string, more: Partial<FrameSpec> = {}) =>
  frame({ opcode: 0, payload: b, ...more });
export const ping = (b: Uint8Array | string = "", more: Partial<FrameSpec> = {}) =>
  frame({ opcode: 9, payload: b, ...more });
export const close = (code?: number, reason = "") =>
  frame({
    opcode: 8,
    payload:
      code === undefined ? "" : Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]),
  });

/** An event with its bytes as hex (views compare by content, not identity). */
export type Ev =
  | { type: "text"; data: string }
  | { type: "binary" | "pong"; data: string }
  | { type: "ping"; data: string; reply: string | null }
  | { type: "close"; code: number; reason: string; reply: string | null };

export const hex = (b: Uint8Array | null): string | null =>
  b === null ? null : Buffer.from(b).toString("hex");

function plain(ev: WebSocketEvent): Ev {
  switch (ev.type) {
    case "text":
      return { type: "text", data: ev.data };
    case "binary":
    case "pong":
      return { type: ev.type, data: hex(ev.data)! };
    case "ping":
      return { type: "ping", data: hex(ev.data)!, reply: hex(ev.reply) };
    case "close":
      return { type: "close", code: ev.code, reason: ev.reason, reply: hex(ev.reply) };
  }
}

/** Every event available now. */
export function drain(core: WebSocketCore): Ev[] {
  const out: Ev[] = [];
  for (let ev = core.nextEvent(); ev !== WS_NEED_DATA; ev = core.nextEvent()) out.push(plain(ev));
  return out;
}

/** Feeds `input` in the given pieces (sizes), collecting events after each piece. */
export function feedSplit(core: WebSocketCore, input: Buffer, sizes: number[]): Ev[] {
  const out: Ev[] = [];
  let pos = 0;
  for (const n of sizes) {
    // A copy per piece: the core unmasks in place, and the input is reused across splits.
    core.receiveData(Buffer.from(input.subarray(pos, pos + n)));
    pos += n;
    out.push(...drain(core));
  }
  if (pos < input.length) {
    core.receiveData(Buffer.from(input.subarray(pos)));
    out.push(...drain(core));
  }
  return out;
}

/** Feeds `input` to a fresh server core and expects a protocol error with this close code and error code. */
export function expectFailure(
  input: Buffer | Buffer[],
  closeCode: number,
  code: WebSocketErrorCode,
  options: ConstructorParameters<typeof WebSocketCore>[0] = {},
): WebSocketCore {
  const core = new WebSocketCore(options);
  for (const b of Array.isArray(input) ? input : [input]) core.receiveData(Buffer.from(b));
  assert.throws(
    () => drain(core),
    (err: unknown) => {
      assert.ok(err instanceof WebSocketProtocolError, String(err));
      assert.equal(err.closeCode, closeCode, err.message);
      assert.equal(err.code, code, err.message);
      return true;
    },
  );
  return core;
}
