/**
 * The WebSocket benchmark's load client, run as its own process by
 * bench/ws.ts. A minimal RFC 6455 client straight on `node:net`: the
 * handshake, one precomputed masked frame, and a frame reader that only
 * counts messages and answers pings. A full client library would spend more
 * CPU per message than the servers being measured; this one should not be
 * the bottleneck.
 *
 *   node --import tsx bench/ws-load.ts echo PORT [CONNECTIONS] [SECONDS] [SIZE] [IN_FLIGHT]
 *     Each connection keeps IN_FLIGHT (default 1) SIZE-byte text messages in
 *     flight and sends one more for every echo that arrives. The echoes a
 *     read brings are answered with one write (a slice of a buffer of
 *     precomputed frames), so the client spends one syscall per read, not
 *     per message. Prints {"roundTrips", "seconds"} as JSON.
 *   node --import tsx bench/ws-load.ts large PORT SIZE SECONDS
 *     One connection echoes SIZE-byte binary messages, one at a time, for
 *     about SECONDS (at least three messages). Payloads are skipped as they
 *     arrive, never gathered. Prints {"messages", "bytes", "seconds"} as JSON.
 *   node --import tsx bench/ws-load.ts hold PORT [CONNECTIONS]
 *     Opens CONNECTIONS idle WebSockets, prints {"open": N} as JSON once all
 *     are open, then holds them (answering pings) until killed.
 */

import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

const HOST = "127.0.0.1";
/**
 * Handshakes in flight at once while opening connections: enough to open
 * thousands per second, few enough to stay inside the listen backlog (511 in
 * Node) without SYN retries distorting the run.
 */
const OPEN_CONCURRENCY = 200;

/** A client frame: FIN, `opcode`, masked `payload` (payloads up to 125 bytes are all this client sends). */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  if (payload.length > 125) throw new Error("maskedFrame: payload over 125 bytes");
  // One random key per frame as RFC 6455 §5.3 asks; the server unmasks whatever key it gets.
  const key = randomBytes(4);
  const frame = Buffer.alloc(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  key.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

interface Connection {
  socket: Socket;
  /** Bytes of a frame split across reads. */
  pending: Buffer | null;
  /** Called once per read with the number of complete data messages it finished (when not 0). */
  onMessage: (conn: Connection, count: number) => void;
}

/** Reads server frames (never masked), calling `onMessage` once per read with the messages it completed, and answering pings. */
function readFrames(conn: Connection, chunk: Buffer): void {
  let count = 0;
  const buf = conn.pending === null ? chunk : Buffer.concat([conn.pending, chunk]);
  let off = 0;
  for (;;) {
    const left = buf.length - off;
    if (left < 2) break;
    const b0 = buf[off]!;
    let length = buf[off + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (left < 4) break;
      length = buf.readUInt16BE(off + 2);
      header = 4;
    } else if (length === 127) {
      if (left < 10) break;
      length = Number(buf.readBigUInt64BE(off + 2));
      header = 10;
    }
    if (left < header + length) break;
    const opcode = b0 & 0x0f;
    if (opcode === 0x9) {
      conn.socket.write(maskedFrame(0xa, buf.subarray(off + header, off + header + length)));
    } else if (opcode === 0x8) {
      const code = length >= 2 ? buf.readUInt16BE(off + header) : 1005;
      throw new Error(`server closed a benchmark connection with ${code}`);
    } else if (opcode !== 0xa && (b0 & 0x80) !== 0) {
      count++; // the final frame of a text, binary or continuation message
    }
    off += header + length;
  }
  conn.pending = off === buf.length ? null : buf.subarray(off);
  if (count > 0) conn.onMessage(conn, count);
}

/** Opens one WebSocket to `port` and resolves once the server's 101 has arrived. */
function open(port: number, onMessage: Connection["onMessage"]): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port, noDelay: true });
    const conn: Connection = { socket, pending: null, onMessage };
    let head = Buffer.alloc(0);
    const onHandshake = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      if (!head.subarray(0, 13).equals(Buffer.from("HTTP/1.1 101 "))) {
        reject(new Error(`handshake refused: ${head.subarray(0, end).toString("latin1")}`));
        socket.destroy();
        return;
      }
      socket.off("data", onHandshake);
      socket.on("data", (data: Buffer) => readFrames(conn, data));
      resolve(conn);
      if (end + 4 < head.length) readFrames(conn, head.subarray(end + 4));
    };
    socket.on("data", onHandshake);
    socket.on("error", (err) => {
      reject(err);
      // After the handshake an error ends the benchmark: its figures would be wrong.
      process.stderr.write(`ws-load: ${err.message}\n`);
      process.exitCode = 1;
    });
    socket.write(
      `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

/** Opens `count` connections, at most OPEN_CONCURRENCY handshakes at a time. */
async function openMany(port: number, count: number, onMessage: Connection["onMessage"]) {
  const conns: Connection[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      conns.push(await open(port, onMessage));
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, worker));
  return conns;
}

async function echo(
  port: number,
  connections: number,
  seconds: number,
  size: number,
  inFlight: number,
): Promise<void> {
  // The same frames every time: building them per message would be client
  // work the servers do not do. `inFlight` frames back to back (one key
  // each): a read that completes n echoes is answered with the first n.
  const one = maskedFrame(0x1, Buffer.alloc(size, "x"));
  const frames = Buffer.concat(
    Array.from({ length: inFlight }, () => maskedFrame(0x1, Buffer.alloc(size, "x"))),
  );
  let counting = false;
  let roundTrips = 0;
  const conns = await openMany(port, connections, (conn, count) => {
    if (!counting) return;
    roundTrips += count;
    // A server never has more than inFlight echoes to send; guard anyway.
    while (count > inFlight) {
      conn.socket.write(frames);
      count -= inFlight;
    }
    conn.socket.write(count === 1 ? one : frames.subarray(0, count * one.length));
  });
  const started = performance.now();
  counting = true;
  for (const conn of conns) conn.socket.write(frames);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ roundTrips, seconds: elapsed })}\n`);
  for (const conn of conns) conn.socket.destroy();
}

/** A masked binary frame of any size (the `large` mode's one message, built once). */
function largeFrame(size: number): Buffer {
  const frame = Buffer.allocUnsafe(14 + size);
  frame[0] = 0x82;
  frame[1] = 0x80 | 127;
  frame.writeBigUInt64BE(BigInt(size), 2);
  const key = randomBytes(4);
  key.copy(frame, 10);
  // The payload's content does not matter to either server: zeros, masked.
  for (let i = 0; i < size; i++) frame[14 + i] = key[i & 3]!;
  return frame;
}

/**
 * Counts the payload bytes of the server's final data frames without
 * keeping them: a large message goes by in many reads, and gathering it
 * would make the client, not the server, the cost being measured.
 */
function payloadCounter(onMessage: () => void): (chunk: Buffer) => void {
  const header = Buffer.alloc(10);
  let have = 0;
  let need = 2;
  let skip = 0;
  let final = false;
  return (chunk) => {
    let off = 0;
    while (off < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - off);
        skip -= n;
        off += n;
        if (skip === 0 && final) onMessage();
        continue;
      }
      const n = Math.min(need - have, chunk.length - off);
      chunk.copy(header, have, off, off + n);
      have += n;
      off += n;
      if (have < need) return;
      const len7 = header[1]! & 0x7f;
      if (need === 2 && len7 >= 126) {
        need = len7 === 126 ? 4 : 10;
        continue;
      }
      const length =
        len7 < 126 ? len7 : len7 === 126 ? header.readUInt16BE(2) : Number(header.readBigUInt64BE(2));
      const opcode = header[0]! & 0x0f;
      if (opcode === 0x8) throw new Error("server closed the large-message connection");
      final = (header[0]! & 0x80) !== 0 && opcode < 0x8;
      have = 0;
      need = 2;
      skip = length;
      if (skip === 0 && final) onMessage();
    }
  };
}

async function large(port: number, size: number, seconds: number): Promise<void> {
  const frame = largeFrame(size);
  const conn = await open(port, () => {});
  conn.socket.removeAllListeners("data");
  let messages = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await new Promise<void>((resolve, reject) => {
    const count = payloadCounter(() => {
      messages++;
      if (messages >= 3 && performance.now() >= deadline) resolve();
      else conn.socket.write(frame);
    });
    conn.socket.on("data", (chunk: Buffer) => {
      try {
        count(chunk);
      } catch (err) {
        reject(err);
      }
    });
    conn.socket.on("close", () => reject(new Error(`connection closed after ${messages} messages`)));
    conn.socket.write(frame);
  });
  const elapsed = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ messages, bytes: messages * size, seconds: elapsed })}
`);
  conn.socket.destroy();
}

async function hold(port: number, connections: number): Promise<void> {
  const started = performance.now();
  const conns = await openMany(port, connections, () => {});
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ open: conns.length, seconds })}\n`);
  // Held until the runner kills this process.
  process.on("SIGTERM", () => process.exit(0));
}

const [mode, port, ...rest] = process.argv.slice(2);
try {
  if (mode === "echo") {
    await echo(
      Number(port),
      Number(rest[0] ?? 64),
      Number(rest[1] ?? 5),
      Number(rest[2] ?? 32),
      Number(rest[3] ?? 1),
    );
  } else if (mode === "large") {
    await large(Number(port), Number(rest[0]), Number(rest[1] ?? 5));
  } else if (mode === "hold") {
    await hold(Number(port), Number(rest[0] ?? 10_000));
  } else {
    process.stderr.write(
      "usage: ws-load.ts echo PORT [CONNECTIONS] [SECONDS] [SIZE] [IN_FLIGHT] | large PORT SIZE [SECONDS] | hold PORT [CONNECTIONS]\n",
    );
    process.exit(2);
  }
} catch (err) {
  // One line: the runner reports the first line of stderr.
  process.stderr.write(`ws-load: ${(err as Error).message.replaceAll("\r\n", " | ")}\n`);
  process.exit(1);
}
