/**
 * A byte-exact WebSocket client for tests: does the opening handshake over a
 * plain TCP socket, then sends frames built by hand (masked or not, any
 * opcode, any flags) and parses what the server sends back. Real clients
 * refuse to send broken frames; this one exists to send them.
 */

import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

/** A frame as read from the server. */
export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Buffer;
}

/** Options of {@link frame}. */
export interface FrameOptions {
  fin?: boolean;
  /** RSV1..3 as bits 0b100, 0b010, 0b001. */
  rsv?: number;
  /** Mask the payload (clients must). Default true. */
  mask?: boolean;
  /** Claimed payload length when it should differ from the payload (or force a length encoding). */
  length?: number;
  /** Length encoding: 7, 16 or 64 bits. Default: minimal. */
  lengthBits?: 7 | 16 | 64;
}

/** Builds one frame. */
export function frame(opcode: number, payload: string | Uint8Array = "", options: FrameOptions = {}): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
  const { fin = true, rsv = 0, mask = true } = options;
  const length = options.length ?? data.length;
  const bits = options.lengthBits ?? (length < 126 ? 7 : length < 65536 ? 16 : 64);
  const head: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (bits === 7) head.push(maskBit | length);
  else if (bits === 16) head.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(maskBit | 127, ...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  const masked = Buffer.from(data);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** A close frame payload: code (2 bytes) and reason. */
export function closePayload(code: number, reason = ""): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2, "utf8");
  return out;
}

/** A handshake request for `path`, with extra header lines. */
export function handshake(path = "/", extra = "", key = randomBytes(16).toString("base64")): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** A connected raw WebSocket client. */
export class RawWebSocket {
  /** The server's handshake response head (status line and headers). */
  responseHead = "";
  status = 0;
  /** The server closed the TCP connection. */
  ended = false;
  private buffer = Buffer.alloc(0);
  private frames: Frame[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
      this.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  /** Connects and sends the handshake `request` (bytes after it ride in the same write); resolves once the response head arrived. */
  static async open(port: number, request: string | Uint8Array = handshake()): Promise<RawWebSocket> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new RawWebSocket(socket);
    socket.write(request);
    await client.until(() => client.responseHead !== "" || client.ended);
    return client;
  }

  /** Sends raw bytes. */
  send(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  /** The next frame from the server, or null if the connection closed first. */
  async next(timeoutMs = 3000): Promise<Frame | null> {
    await this.until(() => this.frames.length > 0 || this.ended, timeoutMs);
    return this.frames.shift() ?? null;
  }

  /** Reads frames until a close frame; returns its code (1005 when empty) and reason. */
  async closeFrame(timeoutMs = 3000): Promise<{ code: number; reason: string } | null> {
    for (;;) {
      const f = await this.next(timeoutMs);
      if (f === null) return null;
      if (f.opcode !== 8) continue;
      if (f.payload.length === 0) return { code: 1005, reason: "" };
      return { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString("utf8") };
    }
  }

  /** Resolves once the server has closed the TCP connection. */
  async closed(timeoutMs = 3000): Promise<boolean> {
    await this.until(() => this.ended, timeoutMs);
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    if (this.responseHead === "") {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      this.responseHead = this.buffer.subarray(0, end).toString("latin1");
      this.status = Number(this.responseHead.slice(9, 12));
      this.buffer = this.buffer.subarray(end + 4);
      if (this.status !== 101) {
        // Not upgraded: what follows is an HTTP body, not frames.
        this.responseHead += `\r\n\r\n${this.buffer.toString("latin1")}`;
        this.buffer = Buffer.alloc(0);
        return;
      }
    }
    if (this.status !== 101) return;
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b[1]! & 0x80) throw new Error("the server masked a frame");
      if (b.length < offset + length) return;
      this.frames.push({
        fin: (b[0]! & 0x80) !== 0,
        rsv: (b[0]! >> 4) & 7,
        opcode: b[0]! & 0x0f,
        payload: Buffer.from(b.subarray(offset, offset + length)),
      });
      this.buffer = b.subarray(offset + length);
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private async until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
