/**
 * How the server reads a plain TCP socket. Two modes:
 *
 * - `"buffer"` (the default where Node supports it): every read of every
 *   connection lands in one 64 KiB buffer the server owns, and the
 *   connection gets a copy of just the bytes read. This is net.Socket's own
 *   `onread` read path (documented for `net.connect()`, lib/net.js
 *   `kBuffer`/`kBufferCb`), attached to an accepted socket. It skips what a
 *   stream read costs: a 64 KiB allocation and a shrinking reallocation per
 *   read, the Readable's buffering and the `'data'` event. Measured with
 *   `npm run bench:cpu`, a canned-response server spends 3.4 µs of user CPU
 *   per keep-alive request this way against 4.9 µs with `'data'` events on
 *   Node 20 (2.7 against 4.2 on Node 24); see docs/performance.md.
 * - `"stream"`: the public stream path, `socket.on('data')`. Forced with the
 *   `socketReads: "stream"` option, `--socket-reads stream`, or
 *   `TSGI_SOCKET_READS=stream`; used anyway for TLS sockets, for a socket
 *   holding bytes read before the connection began (a PROXY protocol header's
 *   leftovers), and on a Node whose net.Socket lacks the read path.
 *
 * One buffer serves every connection because reads are delivered one at a
 * time on the event loop, and the bytes are copied out before the callback
 * returns. Pausing still works: net.Socket's `pause()`/`resume()` stop and
 * start the handle's reads in this mode. End of stream and errors arrive as
 * in the stream mode (`'end'`, `'error'`, `'close'`).
 *
 * A socket tsgi's own WebSocket session takes over keeps the shared reads
 * ({@link redirectSharedReads}). A socket handed to an app (an `'upgrade'`
 * or `'connect'` listener) is switched back to `'data'` events with
 * {@link releaseSharedReads}: its reads are then pushed into the socket's
 * Readable, with the Readable's own backpressure.
 */

import { Socket } from "node:net";

/** How the server reads plain TCP sockets; see the file comment. */
export type SocketReadMode = "buffer" | "stream";

/** Called with each read's bytes (a copy the callee may keep), with the socket as `this`. */
export type ChunkListener = (this: Socket, chunk: Buffer) => void;

interface ReadSymbols {
  /** The buffer reads land in (null: stream reads). */
  readonly kBuffer: symbol;
  /** `(nread, buffer) => boolean | void`: false stops reading. */
  readonly kBufferCb: symbol;
  /**
   * A function giving the next read's buffer (null: keep the same). Not set
   * here; looked for so the path is taken only where all three fields that
   * lib/net.js reads are present.
   */
  readonly kBufferGen: symbol;
}

/** net.Socket's symbols for the read path, found by description on a probe; null if a Node has none. */
function findSymbols(): ReadSymbols | null {
  const probe = new Socket();
  const symbols = Object.getOwnPropertySymbols(probe);
  probe.destroy();
  const find = (description: string) => symbols.find((s) => s.description === description);
  const kBuffer = find("kBuffer");
  const kBufferCb = find("kBufferCb");
  const kBufferGen = find("kBufferGen");
  if (kBuffer === undefined || kBufferCb === undefined || kBufferGen === undefined) return null;
  return { kBuffer, kBufferCb, kBufferGen };
}

let symbols: ReadSymbols | null | undefined;

/** The symbols, looked up once per process (they are Node's, not per-server state). */
function readSymbols(): ReadSymbols | null {
  if (symbols === undefined) symbols = findSymbols();
  return symbols;
}

type Slots = Record<symbol, unknown>;
interface UserBufferHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/** The read mode the `TSGI_SOCKET_READS` environment variable forces, if any. */
export function socketReadsFromEnv(env: NodeJS.ProcessEnv = process.env): SocketReadMode | null {
  const value = env.TSGI_SOCKET_READS;
  return value === "stream" || value === "buffer" ? value : null;
}

/** Where a socket read by {@link SharedReads} keeps its {@link ChunkListener}. */
const kOnChunk = Symbol("tsgi.onChunk");
/** Where a socket read by {@link SharedReads} keeps it (for its copies). */
const kReads = Symbol("tsgi.sharedReads");

type ReadingSocket = Socket & { [kOnChunk]: ChunkListener; [kReads]: SharedReads };

/** net.Socket's callback for each read (called as a method of the socket): a copy to the socket's listener. */
function deliverCopy(this: ReadingSocket, nread: number, buffer: Buffer): void {
  this[kOnChunk](this[kReads].copy(buffer, nread));
}

/** The callback after {@link releaseSharedReads}: a copy into the socket's Readable; false (stop reading) once it is full. */
function pushCopy(this: ReadingSocket, nread: number, buffer: Buffer): boolean {
  return this.push(this[kReads].copy(buffer, nread));
}

/** Copies above Node's own pooled sizes and up to this come from the server's slab. */
const SLAB_MAX_COPY = 16 * 1024;
const SLAB_SIZE = 64 * 1024;

/**
 * The read buffer for a server whose `socketReads` option is `mode`: null
 * (stream reads) when the option or `TSGI_SOCKET_READS` says "stream".
 */
export function sharedReadsFor(
  mode: SocketReadMode,
  env: NodeJS.ProcessEnv = process.env,
): SharedReads | null {
  return mode === "stream" || socketReadsFromEnv(env) === "stream" ? null : new SharedReads();
}

/** One server's read buffer, shared by its connections; see the file comment. */
export class SharedReads {
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);
  /**
   * Where copies of 4 to 16 KiB are carved (a POST with a few KiB of body is
   * one such read): `Buffer.allocUnsafe` pools only up to 4 KiB, and a
   * buffer of its own per read costs an allocation the GC must track,
   * measured at 1.8 µs against 0.7 µs for a slice of a slab. A slab is
   * freed once no slice of it is referenced, as Node's own pool is.
   */
  private slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  private slabUsed = 0;

  /** The first `n` bytes of the read buffer `source`, copied to memory of their own. */
  copy(source: Buffer, n: number): Buffer {
    if (n <= Buffer.poolSize >>> 1 || n > SLAB_MAX_COPY) {
      const chunk = Buffer.allocUnsafe(n);
      source.copy(chunk, 0, 0, n);
      return chunk;
    }
    if (this.slabUsed + n > SLAB_SIZE) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.slabUsed = 0;
    }
    const start = this.slabUsed;
    this.slab.set(source.subarray(0, n), start);
    this.slabUsed = (start + n + 7) & ~7; // 8-byte aligned, as Node's pool
    return this.slab.subarray(start, start + n);
  }

  /**
   * Reads `socket` into the shared buffer from now on, each read's bytes
   * going to `onChunk` as a copy. Returns false, changing nothing, where the
   * socket must be read through `'data'` events instead (see the file comment).
   */
  attach(socket: Socket, onChunk: ChunkListener): boolean {
    const s = readSymbols();
    if (s === null) return false;
    const slots = socket as unknown as Slots;
    const handle = (socket as unknown as { _handle: UserBufferHandle | null })._handle;
    if (
      (socket as { encrypted?: boolean }).encrypted === true ||
      handle === null ||
      typeof handle.useUserBuffer !== "function" ||
      slots[s.kBuffer] !== null ||
      socket.readableLength > 0 ||
      socket.destroyed
    ) {
      return false;
    }
    (socket as ReadingSocket)[kOnChunk] = onChunk;
    (socket as ReadingSocket)[kReads] = this;
    slots[s.kBuffer] = this.buffer;
    slots[s.kBufferCb] = deliverCopy;
    handle.useUserBuffer(this.buffer);
    return true;
  }
}

/** Whether `socket` is read by {@link SharedReads} for a listener of ours (not released). */
export function readsShared(socket: Socket): boolean {
  const s = readSymbols();
  return s !== null && (socket as unknown as Slots)[s.kBufferCb] === deliverCopy;
}

/**
 * Gives the reads of a socket read by {@link SharedReads} to a new listener
 * (a WebSocket session taking over the connection). Returns false if the
 * socket is read through `'data'` events.
 */
export function redirectSharedReads(socket: Socket, onChunk: ChunkListener): boolean {
  if (!readsShared(socket)) return false;
  (socket as ReadingSocket)[kOnChunk] = onChunk;
  return true;
}

/**
 * Hands a socket read by {@link SharedReads} back to `'data'` events for a
 * new owner: each read is pushed (as a copy) into the socket's Readable, and
 * a full Readable stops the reads until it is read again, as a stream read
 * would. Does nothing to a socket read through `'data'` events already.
 */
export function releaseSharedReads(socket: Socket): void {
  if (!readsShared(socket)) return;
  (socket as unknown as Slots)[readSymbols()!.kBufferCb] = pushCopy;
}
