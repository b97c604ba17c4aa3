/**
 * Benchmark floor for the WebSocket echo: the least a Node server can do per
 * message, in the spirit of uWebSockets' echo. A real handshake, then frames
 * parsed with no checks beyond what echoing needs (no UTF-8 validation, no
 * limits, no close handshake, no events), unmasked into one output buffer
 * and written once per read. It is not a WebSocket server anyone should
 * run; it shows how fast the load client can go, so that the tsgi/ws ratio
 * is about the servers and not the client (bench/ws.ts runs it in the echo
 * rounds only).
 */

import { createHash } from "node:crypto";
import { createServer, type Socket } from "node:net";

const port = Number(process.argv[2] ?? 0);
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Echoes every complete frame in `buf`, unmasked, in one write; returns the unread tail. */
function echoFrames(socket: Socket, buf: Buffer): Buffer | null {
  const out = Buffer.allocUnsafe(buf.length);
  let o = 0;
  let off = 0;
  for (;;) {
    const left = buf.length - off;
    if (left < 2) break;
    let len = buf[off + 1]! & 0x7f;
    let h = 2;
    if (len === 126) {
      if (left < 4) break;
      len = buf.readUInt16BE(off + 2);
      h = 4;
    } else if (len === 127) {
      if (left < 10) break;
      len = Number(buf.readBigUInt64BE(off + 2));
      h = 10;
    }
    if (left < h + 4 + len) break;
    const opcode = buf[off]! & 0x0f;
    if (opcode === 0x8) {
      socket.end();
      return null;
    }
    // Header without the mask bit and key, then the unmasked payload.
    out[o] = buf[off]!;
    out[o + 1] = len < 126 ? len : len < 0x10000 ? 126 : 127;
    buf.copy(out, o + 2, off + 2, off + h);
    o += h;
    const k = off + h;
    const p = k + 4;
    for (let i = 0; i < len; i++) out[o + i] = buf[p + i]! ^ buf[k + (i & 3)]!;
    o += len;
    off = p + len;
  }
  if (o > 0) socket.write(out.subarray(0, o));
  return off === buf.length ? null : buf.subarray(off);
}

const server = createServer({ noDelay: true }, (socket) => {
  let head = Buffer.alloc(0);
  let pending: Buffer | null = null;
  const onFrames = (chunk: Buffer) => {
    pending = echoFrames(socket, pending === null ? chunk : Buffer.concat([pending, chunk]));
  };
  const onHead = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end === -1) return;
    const key = /sec-websocket-key: *([^\r]+)/i.exec(head.subarray(0, end).toString("latin1"))?.[1];
    const accept = createHash("sha1")
      .update(key + GUID)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.off("data", onHead);
    socket.on("data", onFrames);
    if (end + 4 < head.length) onFrames(head.subarray(end + 4));
  };
  socket.on("data", onHead);
  socket.on("error", () => {});
});
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  if (typeof address === "object" && address !== null)
    process.stderr.write(`Listening on http://127.0.0.1:${address.port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
