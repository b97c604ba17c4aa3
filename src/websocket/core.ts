/**
 * The WebSocket protocol (RFC 6455, with RFC 7692 permessage-deflate), sans-IO.
 *
 * Bytes from the peer go in with `receiveData()`; complete messages and
 * control frames come out of `nextEvent()`; every `send*()` returns the bytes
 * to write. No socket, timer or stream: the I/O layer (src/server/websocket.ts)
 * owns those. Framing is in this file (one resumable frame reader, one frame
 * writer); UTF-8 checking is in utf8.ts, compression in deflate.ts.
 *
 * Received buffers become the core's: payloads are unmasked in place and a
 * message that arrived as one frame in one chunk is handed out as a view of
 * the chunk, without a copy. A message in several pieces (frames, or chunks
 * of one frame) is copied into one buffer as it arrives, so what a large
 * message holds is its size, not a list of every chunk it came in.
 */

import { isUtf8 } from "node:buffer";
import { createRequire } from "node:module";
import { type DeflateParams, InflateDataError, InflateLimitError, PerMessageDeflate } from "./deflate.ts";
import { type WebSocketErrorCode, WebSocketProtocolError, WebSocketUsageError } from "./errors.ts";
import {
  type BinaryMessage,
  type CloseReceived,
  type PingReceived,
  type TextMessage,
  type WebSocketEvent,
  type WebSocketState,
  WS_NEED_DATA,
} from "./events.ts";
import { ReceivedText, receivedTextOf } from "./text.ts";
import { Utf8Validator } from "./utf8.ts";

/** Settings of a {@link WebSocketCore}. */
export interface WebSocketCoreOptions {
  /**
   * Largest message accepted (after inflating), bytes; over it the connection
   * fails with 1009. Default 16 MiB, uvicorn's `--ws-max-size` (ws defaults to 100 MiB).
   */
  maxMessageSize?: number;
  /** Agreed permessage-deflate parameters (from `negotiateDeflate`), or null/undefined for none. */
  deflate?: DeflateParams | null;
  /**
   * Messages smaller than this many bytes are sent uncompressed even with
   * deflate on: compressing them costs more CPU than it saves bytes. Default 1024 (ws's `threshold`).
   */
  compressionThreshold?: number;
  /** Act as the client: mask what we send and require unmasked frames (tests and the bench use this). Default false. */
  client?: boolean;
  /**
   * Called with every frame header received, once it is checked (the I/O
   * layer's `--trace` shows frames with it). Messages still come from `nextEvent()`.
   */
  onFrame?: ((header: FrameHeader) => void) | null;
}

/** A received frame's header, as `onFrame` reports it. */
export interface FrameHeader {
  readonly opcode: number;
  readonly fin: boolean;
  /** RSV1: the first frame of a compressed message (RFC 7692). */
  readonly compressed: boolean;
  readonly masked: boolean;
  readonly length: number;
}

/** Default `maxMessageSize`: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/** Default `compressionThreshold`: 1 KiB. */
export const DEFAULT_COMPRESSION_THRESHOLD = 1024;

// Opcodes (RFC 6455 §5.2).
const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

// Frame reader states.
const HEADER = 0;
const PAYLOAD = 1;

/** Payloads below this are copied into one buffer with their header (one write, one allocation); above, sent as [header, payload]. */
const SMALL_MESSAGE = 16 * 1024;
/** Smallest buffer a message in several pieces is gathered in. */
const MIN_ASSEMBLY = 1024;
/** Masking takes the word-at-a-time path from this many bytes. */
const WORD_UNMASK_MIN = 128;

const EMPTY = Buffer.alloc(0);

/**
 * Header bytes that straddle chunks are gathered here. One for all cores:
 * it is used only inside one readHeader() call, and JavaScript runs one at a time.
 */
const HEADER_SCRATCH = Buffer.alloc(14);

/**
 * XORs `buf[start..end)` with a masking key (big-endian, as on the wire),
 * starting at key byte `phase`. The key is rotated so that its top byte is
 * the one for `buf[start]`; small payloads (most messages) then take a plain
 * byte loop unrolled by four, with no allocation. Large ones go a word at a
 * time over their aligned middle, through a typed-array view: 4x fewer
 * iterations where it matters, and the view costs little next to the
 * payload. The mask word is assembled through a byte view so it works on
 * either endianness.
 */
const maskBytes = new Uint8Array(4);
const maskWord = new Uint32Array(maskBytes.buffer);
function applyMask(buf: Uint8Array, start: number, end: number, key: number, phase: number): void {
  const shift = (phase & 3) << 3;
  let k = shift === 0 ? key >>> 0 : ((key << shift) | (key >>> (32 - shift))) >>> 0;
  let i = start;
  if (end - i >= WORD_UNMASK_MIN) {
    while (((buf.byteOffset + i) & 3) !== 0) {
      buf[i] = buf[i]! ^ (k >>> 24);
      k = ((k << 8) | (k >>> 24)) >>> 0;
      i++;
    }
    maskBytes[0] = k >>> 24;
    maskBytes[1] = (k >>> 16) & 0xff;
    maskBytes[2] = (k >>> 8) & 0xff;
    maskBytes[3] = k & 0xff;
    const w = maskWord[0]!;
    const words = (end - i) >>> 2;
    const u32 = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    for (let j = 0; j < words; j++) u32[j] = u32[j]! ^ w;
    // Whole words consumed: the key's rotation is where it was.
    i += words << 2;
  }
  const m0 = k >>> 24;
  const m1 = (k >>> 16) & 0xff;
  const m2 = (k >>> 8) & 0xff;
  const m3 = k & 0xff;
  for (; i + 4 <= end; i += 4) {
    buf[i] = buf[i]! ^ m0;
    buf[i + 1] = buf[i + 1]! ^ m1;
    buf[i + 2] = buf[i + 2]! ^ m2;
    buf[i + 3] = buf[i + 3]! ^ m3;
  }
  if (i < end) buf[i] = buf[i]! ^ m0;
  if (i + 1 < end) buf[i + 1] = buf[i + 1]! ^ m1;
  if (i + 2 < end) buf[i + 2] = buf[i + 2]! ^ m2;
}

/** Random masking keys for client mode, drawn from a pool so each frame does not cost a crypto call. */
const MASK_POOL_SIZE = 4096;
let maskPool = Buffer.alloc(0);
let maskPoolPos = 0;
function nextMaskKey(): Uint8Array {
  if (maskPoolPos + 4 > maskPool.length) {
    // node:crypto is loaded here, by client-mode cores only (see handshake.ts's crypto()).
    const { randomFillSync } = createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");
    maskPool = randomFillSync(Buffer.allocUnsafeSlow(MASK_POOL_SIZE));
    maskPoolPos = 0;
  }
  const key = maskPool.subarray(maskPoolPos, maskPoolPos + 4);
  maskPoolPos += 4;
  return key;
}

/** Header length for a payload of `len` bytes: minimal length encoding (§5.2), plus 4 for a masking key. */
function headerLength(len: number, masked: boolean): number {
  return (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Writes a frame header at `buf[0..]`; returns the masking key written (client, big-endian) or null. */
function writeHeader(buf: Uint8Array, first: number, len: number, masked: boolean): number | null {
  buf[0] = first;
  let p: number;
  const maskBit = masked ? 0x80 : 0;
  if (len < 126) {
    buf[1] = maskBit | len;
    p = 2;
  } else if (len < 0x10000) {
    buf[1] = maskBit | 126;
    buf[2] = len >>> 8;
    buf[3] = len & 0xff;
    p = 4;
  } else {
    buf[1] = maskBit | 127;
    const hi = Math.floor(len / 0x100000000);
    buf[2] = 0;
    buf[3] = 0;
    buf[4] = (hi >>> 8) & 0xff;
    buf[5] = hi & 0xff;
    buf[6] = (len >>> 24) & 0xff;
    buf[7] = (len >>> 16) & 0xff;
    buf[8] = (len >>> 8) & 0xff;
    buf[9] = len & 0xff;
    p = 10;
  }
  if (!masked) return null;
  const key = nextMaskKey();
  buf.set(key, p);
  return ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
}

/** Close codes an endpoint may send (RFC 6455 §7.4.1–§7.4.2, IANA registry): 1004–1006 and 1015 are reserved, 1016–2999 unassigned. */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * One WebSocket connection, either side (server by default).
 *
 * @example
 * const core = new WebSocketCore();
 * core.receiveData(chunk);
 * for (let ev = core.nextEvent(); ev !== WS_NEED_DATA; ev = core.nextEvent()) {
 *   if (ev.type === "text") write(core.sendText(ev.data));       // echo
 *   else if (ev.type === "ping" && ev.reply) write([ev.reply]);
 *   else if (ev.type === "close") { if (ev.reply) write([ev.reply]); end(); }
 * }
 */
export class WebSocketCore {
  readonly client: boolean;
  readonly maxMessageSize: number;
  readonly compressionThreshold: number;
  private readonly deflate: PerMessageDeflate | null;
  private readonly onFrame: ((header: FrameHeader) => void) | null;

  // Input: unread bytes are chunks[head][offset..] followed by the later chunks.
  private chunks: Buffer[] = [];
  private head = 0;
  private offset = 0;
  private buffered = 0;

  // The frame being read.
  private frameState = HEADER;
  private fin = false;
  private opcode = 0;
  private masked = false;
  /** The frame's masking key, big-endian (kept as a number: a buffer per connection would cost more memory). */
  private maskKey = 0;
  /** Payload bytes of the current frame still to read. */
  private remaining = 0;
  /** Payload bytes of the current frame already read, mod 4: where in the mask the next byte starts. */
  private maskPhase = 0;

  // The message being assembled (0: none in progress).
  private messageOpcode = 0;
  private compressed = false;
  /**
   * The message's bytes: its one piece (most messages, kept as a view), or,
   * once a second piece arrives, `assembly[0..assembled)`, a buffer they are
   * copied into. Its capacity is the exact size when the final frame's
   * header says it, else it doubles (capped at `maxMessageSize`): a message
   * in 64-byte fragments costs one buffer, not a Buffer object per fragment.
   */
  private piece: Buffer | null = null;
  private assembly: Buffer | null = null;
  private assembled = 0;
  /** Bytes of the message so far (after inflating). */
  private messageSize = 0;
  /** Created with the first text message: many connections never send one. */
  private utf8: Utf8Validator | null = null;

  // The closing handshake.
  private closeSent = false;
  private closeReceived = false;
  /** The peer broke the protocol (or dispose() ran): nothing more is read. */
  private failed = false;
  private disposed = false;

  constructor(options: WebSocketCoreOptions = {}) {
    this.client = options.client ?? false;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.compressionThreshold = options.compressionThreshold ?? DEFAULT_COMPRESSION_THRESHOLD;
    if (!(this.maxMessageSize > 0)) throw new RangeError("maxMessageSize must be positive");
    this.deflate = options.deflate != null ? new PerMessageDeflate(options.deflate, this.client) : null;
    this.onFrame = options.onFrame ?? null;
  }

  /** OPEN, LOCAL_CLOSING (our close sent, waiting for theirs), or CLOSED (both sent, or the connection failed). */
  get state(): WebSocketState {
    if (this.failed || this.closeReceived) return "CLOSED";
    return this.closeSent ? "LOCAL_CLOSING" : "OPEN";
  }

  /** True once a close frame has left `sendClose()` (or was prepared as the reply to the peer's). */
  get closeFrameSent(): boolean {
    return this.closeSent;
  }

  /**
   * Bytes received and not yet turned into events: unparsed input plus the
   * payload held for a message still arriving (inflated size when compressed).
   * What the core holds; the partial message in it is bounded by
   * `maxMessageSize`, so this is not what flow control should wait on (see
   * {@link unparsedBytes}).
   */
  get bufferedBytes(): number {
    return this.buffered + (this.messageOpcode !== 0 ? this.messageSize : 0);
  }

  /**
   * Bytes received that `nextEvent()` has not parsed yet. Calling
   * `nextEvent()` until `WS_NEED_DATA` always brings this below one frame
   * header or control frame (139 bytes): a data frame's payload is taken in
   * as it arrives. So it grows only while the I/O layer is not asking for
   * events (the app is not taking messages): the number to bound reading with.
   * More reading must never wait on a partial message, which only more
   * reading can complete.
   */
  get unparsedBytes(): number {
    return this.buffered;
  }

  /**
   * Appends bytes from the peer. The core keeps (and unmasks in place) the
   * given buffer: the caller must not reuse it. Ignored after the peer's close
   * or a protocol error (§5.5.1: nothing after a close frame is data).
   */
  receiveData(data: Uint8Array): void {
    if (data.length === 0 || this.failed || this.closeReceived) return;
    this.chunks.push(toBuffer(data));
    this.buffered += data.length;
  }

  /**
   * The next complete message or control frame, or `WS_NEED_DATA`. Throws
   * {@link WebSocketProtocolError} (with the close code to send) when the
   * peer broke the protocol; after that the core is failed: this returns
   * `WS_NEED_DATA` forever and drops what it is given. Sending stays
   * possible until `sendClose()`: answers to messages received before the
   * error may still go out ahead of the close frame that fails the
   * connection (RFC 6455 §7.1.7 only forbids processing more of the peer's data).
   */
  nextEvent(): WebSocketEvent | typeof WS_NEED_DATA {
    if (this.failed || this.closeReceived) return WS_NEED_DATA;
    for (;;) {
      if (this.frameState === HEADER) {
        if (this.buffered >= 6 && this.messageOpcode === 0 && this.onFrame === null && !this.client) {
          const message = this.smallMessage();
          if (message !== null) return message;
        }
        if (!this.readHeader()) return WS_NEED_DATA;
      }
      if (this.opcode >= OP_CLOSE) {
        // Control frames are at most 125 bytes: wait for all of it.
        if (this.buffered < this.remaining) return WS_NEED_DATA;
        const payload = this.takeWhole(this.remaining);
        this.frameState = HEADER;
        return this.controlFrame(payload);
      }
      while (this.remaining > 0) {
        if (this.buffered === 0) return WS_NEED_DATA;
        this.dataPiece(this.takeSome(this.remaining));
      }
      this.frameState = HEADER;
      if (this.fin) return this.finishMessage();
    }
  }

  /**
   * Frames a text message; returns the buffers to write in order. Large
   * messages come back as [header, payload] without copying the payload.
   */
  sendText(data: string): Uint8Array[] {
    this.checkCanSend();
    // A string just read from a received message (an echo, a broadcast): its
    // bytes are at hand and known to be its UTF-8, so nothing is encoded and
    // a large one is sent without a copy.
    const received = receivedTextOf(data);
    if (received !== null) return this.receivedTextFrame(received);
    if (data.length < 126 && !this.client) {
      const frame = this.shortAsciiFrame(data);
      if (frame !== null) return [frame];
    }
    const len = Buffer.byteLength(data, "utf8");
    if (this.deflate !== null && len >= this.compressionThreshold) {
      return this.compressedFrame(OP_TEXT, Buffer.from(data, "utf8"));
    }
    if (len < SMALL_MESSAGE || this.client) {
      const hl = headerLength(len, this.client);
      const buf = Buffer.allocUnsafe(hl + len);
      const key = writeHeader(buf, 0x80 | OP_TEXT, len, this.client);
      buf.write(data, hl, len, "utf8");
      if (key !== null) applyMask(buf, hl, hl + len, key, 0);
      return [buf];
    }
    const header = Buffer.allocUnsafe(headerLength(len, false));
    writeHeader(header, 0x80 | OP_TEXT, len, false);
    return [header, Buffer.from(data, "utf8")];
  }

  /** Frames a received text message's own bytes (see sendText). */
  private receivedTextFrame(text: ReceivedText): Uint8Array[] {
    const { source, start, end } = text;
    const len = end - start;
    if (this.deflate !== null && len >= this.compressionThreshold) {
      return this.compressedFrame(OP_TEXT, text.bytes);
    }
    if (len < 126 && !this.client) {
      // Copied byte by byte: for a short message that beats making a view to copy from.
      const buf = Buffer.allocUnsafe(2 + len);
      buf[0] = 0x80 | OP_TEXT;
      buf[1] = len;
      for (let i = 0; i < len; i++) buf[2 + i] = source[start + i]!;
      return [buf];
    }
    return this.frame(0x80 | OP_TEXT, text.bytes);
  }

  /**
   * A short ASCII text message framed by copying its char codes, or null for
   * any other text. Chat lines and JSON events are mostly like this, and a
   * loop over a few dozen characters costs less than asking Node for the
   * UTF-8 length and then encoding.
   */
  private shortAsciiFrame(data: string): Buffer | null {
    const n = data.length;
    if (this.deflate !== null && n >= this.compressionThreshold) return null;
    const buf = Buffer.allocUnsafe(2 + n);
    for (let i = 0; i < n; i++) {
      const c = data.charCodeAt(i);
      if (c > 0x7f) return null;
      buf[2 + i] = c;
    }
    buf[0] = 0x80 | OP_TEXT;
    buf[1] = n;
    return buf;
  }

  /**
   * Frames a binary message; returns the buffers to write in order. A large
   * payload is not copied: do not modify `data` until it is written.
   */
  sendBinary(data: Uint8Array): Uint8Array[] {
    this.checkCanSend();
    if (this.deflate !== null && data.length >= this.compressionThreshold) {
      return this.compressedFrame(OP_BINARY, data);
    }
    return this.frame(0x80 | OP_BINARY, data);
  }

  /** A ping frame (payload ≤ 125 bytes, §5.5). */
  sendPing(data: Uint8Array = EMPTY): Uint8Array {
    this.checkCanSend();
    return this.controlFrameBytes(OP_PING, data);
  }

  /** An unsolicited pong frame (§5.5.3 allows them as a heartbeat). Pings are answered through `PingReceived.reply`. */
  sendPong(data: Uint8Array = EMPTY): Uint8Array {
    this.checkCanSend();
    return this.controlFrameBytes(OP_PONG, data);
  }

  /**
   * Starts the closing handshake, or (after a thrown protocol error) sends the
   * failure close frame. `code` undefined sends an empty payload (the peer
   * sees 1005). Throws {@link WebSocketUsageError} for a code we may not send
   * (only 1000–1003, 1007–1014, 3000–4999), a reason over 123 UTF-8 bytes, a
   * reason without a code, or a second close frame.
   */
  sendClose(code?: number, reason?: string): Uint8Array {
    if (this.closeSent) throw new WebSocketUsageError("a close frame was already sent");
    let payload = EMPTY;
    if (code !== undefined) {
      if (!Number.isInteger(code) || !isValidCloseCode(code)) {
        throw new WebSocketUsageError(`close code ${code} may not be sent`);
      }
      const reasonLength = reason ? Buffer.byteLength(reason, "utf8") : 0;
      if (reasonLength > 123) throw new WebSocketUsageError("close reason is over 123 bytes");
      payload = Buffer.allocUnsafe(2 + reasonLength);
      payload.writeUInt16BE(code, 0);
      if (reasonLength > 0) payload.write(reason!, 2, "utf8");
    } else if (reason) {
      throw new WebSocketUsageError("a close reason needs a close code");
    }
    this.closeSent = true;
    return this.controlFrameBytes(OP_CLOSE, payload);
  }

  /** Releases the zlib streams and buffered input. Call when the socket is closed; the core is unusable after. */
  dispose(): void {
    this.deflate?.dispose();
    this.dropInput();
    this.failed = true;
    this.disposed = true;
  }

  // ---- receiving -------------------------------------------------------------

  private fail(message: string, code: WebSocketErrorCode, closeCode: number): never {
    this.failed = true;
    this.dropInput();
    throw new WebSocketProtocolError(message, code, closeCode);
  }

  /** Forgets all input and any partial message (after a close, a failure, or dispose()). */
  private dropInput(): void {
    this.chunks = [];
    this.head = this.offset = this.buffered = 0;
    this.piece = null;
    this.assembly = null;
    this.assembled = 0;
    this.messageOpcode = 0;
    this.messageSize = 0;
  }

  /** Byte `i` of the unread input (slow path: a header split across chunks). */
  private peek(i: number): number {
    let idx = this.head;
    let pos = this.offset + i;
    while (pos >= this.chunks[idx]!.length) {
      pos -= this.chunks[idx]!.length;
      idx++;
    }
    return this.chunks[idx]![pos]!;
  }

  /** Marks `n` bytes of the current chunk consumed (n ≤ what it has left). */
  private advance(n: number): void {
    this.offset += n;
    this.buffered -= n;
    if (this.offset === this.chunks[this.head]!.length) {
      this.offset = 0;
      this.head++;
      if (this.head === this.chunks.length) {
        // pop() for the usual single chunk: V8 truncates with `length = 0` through a runtime call.
        if (this.head === 1) this.chunks.pop();
        else this.chunks.length = 0;
        this.head = 0;
      } else if (this.head >= 64) {
        this.chunks.splice(0, this.head);
        this.head = 0;
      }
    }
  }

  /** Up to `max` bytes from the current chunk, as a view, unmasked. */
  private takeSome(max: number): Buffer {
    const chunk = this.chunks[this.head]!;
    const start = this.offset;
    const n = Math.min(max, chunk.length - start);
    const piece = chunk.subarray(start, start + n);
    if (this.masked) {
      applyMask(chunk, start, start + n, this.maskKey, this.maskPhase);
      this.maskPhase = (this.maskPhase + n) & 3;
    }
    this.remaining -= n;
    this.advance(n);
    return piece;
  }

  /** Exactly `n` buffered bytes in one buffer (a view when they are in one chunk), unmasked. */
  private takeWhole(n: number): Buffer {
    if (n === 0) return EMPTY;
    const chunk = this.chunks[this.head]!;
    let out: Buffer;
    if (chunk.length - this.offset >= n) {
      out = chunk.subarray(this.offset, this.offset + n);
      this.advance(n);
    } else {
      out = Buffer.allocUnsafe(n);
      this.gather(out, n);
    }
    if (this.masked) applyMask(out, 0, n, this.maskKey, 0);
    this.remaining = 0;
    return out;
  }

  /** Copies `n` buffered bytes (n ≤ buffered) into `dest` and consumes them. */
  private gather(dest: Buffer, n: number): void {
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.head]!;
      const k = Math.min(n - filled, chunk.length - this.offset);
      chunk.copy(dest, filled, this.offset, this.offset + k);
      filled += k;
      this.advance(k);
    }
  }

  /**
   * The fast path for most messages: a whole small (≤ 125 bytes), masked,
   * uncompressed text or binary message in one frame, all of it in the
   * current chunk, and no message in progress. Checked and unmasked in
   * place, with no state changes besides consuming it: a text message is
   * handed out as its range of the chunk (no view, no string yet), after a
   * check for bytes over 0x7F that spares the native UTF-8 check for ASCII.
   * Null for anything else (including anything the general path would
   * refuse), which then takes the general path from the same byte.
   */
  private smallMessage(): ReceivedText | BinaryMessage | null {
    const chunk = this.chunks[this.head]!;
    const p = this.offset;
    if (chunk.length - p < 6) return null;
    const b0 = chunk[p]!;
    const b1 = chunk[p + 1]!;
    // FIN, no RSV bits, text or binary; masked, 7-bit length.
    if ((b0 !== (0x80 | OP_TEXT) && b0 !== (0x80 | OP_BINARY)) || b1 < 0x80 || b1 > 0x80 + 125) return null;
    const len = b1 & 0x7f;
    const start = p + 6;
    const end = start + len;
    if (end > chunk.length || len > this.maxMessageSize) return null;
    applyMask(chunk, start, end, chunk.readUInt32BE(p + 2), 0);
    this.advance(6 + len);
    if (b0 === (0x80 | OP_BINARY))
      return { type: "binary", data: len === 0 ? EMPTY : chunk.subarray(start, end) };
    let high = 0;
    for (let i = start; i < end; i++) high |= chunk[i]!;
    if (high >= 0x80 && !isUtf8(chunk.subarray(start, end))) {
      this.fail("text message is not UTF-8", "TSGI_ERR_WS_INVALID_UTF8", 1007);
    }
    return new ReceivedText(chunk, start, end);
  }

  /** Reads and checks a frame header; false when more bytes are needed. RFC 6455 §5.2. */
  private readHeader(): boolean {
    if (this.buffered < 2) return false;
    let chunk = this.chunks[this.head]!;
    let p = this.offset;
    const inPlace = chunk.length - p >= 2;
    const b0 = inPlace ? chunk[p]! : this.peek(0);
    const b1 = inPlace ? chunk[p + 1]! : this.peek(1);

    // Everything decidable from the first two bytes fails before we wait for more.
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const control = opcode >= OP_CLOSE;
    if (control ? opcode > OP_PONG : opcode > OP_BINARY) {
      this.fail(`reserved opcode ${opcode}`, "TSGI_ERR_WS_BAD_OPCODE", 1002);
    }
    if ((b0 & 0x30) !== 0) this.fail("RSV2/RSV3 set without an extension", "TSGI_ERR_WS_RESERVED_BITS", 1002);
    if (rsv1 && (this.deflate === null || control || opcode === OP_CONTINUATION)) {
      // RFC 7692 §6: RSV1 marks the first frame of a compressed message, nothing else.
      this.fail("RSV1 set without permessage-deflate on this frame", "TSGI_ERR_WS_RESERVED_BITS", 1002);
    }
    if (masked === this.client) {
      // §5.1: clients mask every frame, servers none.
      if (this.client) this.fail("masked frame from the server", "TSGI_ERR_WS_MASKED_FRAME", 1002);
      this.fail("unmasked frame from the client", "TSGI_ERR_WS_UNMASKED_FRAME", 1002);
    }
    if (control) {
      if (!fin) this.fail("fragmented control frame", "TSGI_ERR_WS_BAD_CONTROL_FRAME", 1002);
      if (len7 > 125) this.fail("control frame over 125 bytes", "TSGI_ERR_WS_BAD_CONTROL_FRAME", 1002);
    } else if (opcode === OP_CONTINUATION) {
      if (this.messageOpcode === 0) {
        this.fail("continuation frame without a message", "TSGI_ERR_WS_BAD_FRAGMENTATION", 1002);
      }
    } else if (this.messageOpcode !== 0) {
      this.fail("new message before the previous one ended", "TSGI_ERR_WS_BAD_FRAGMENTATION", 1002);
    }

    const headerLen = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (this.buffered < headerLen) return false;
    if (chunk.length - p >= headerLen) {
      this.advance(headerLen);
    } else {
      this.gather(HEADER_SCRATCH, headerLen);
      chunk = HEADER_SCRATCH;
      p = 0;
    }

    // Non-minimal lengths are accepted: §5.2 requires minimal encoding of the
    // sender, and refusing a wasteful but unambiguous length protects nothing.
    let len = len7;
    let q = p + 2;
    if (len7 === 126) {
      len = (chunk[q]! << 8) | chunk[q + 1]!;
      q += 2;
    } else if (len7 === 127) {
      const hi = chunk.readUInt32BE(q);
      if (hi >= 0x80000000) this.fail("64-bit length with the top bit set", "TSGI_ERR_WS_BAD_LENGTH", 1002);
      // Over 2^53 a double cannot count the bytes; far over any limit anyway.
      if (hi > 0x1fffff) this.fail("frame too big", "TSGI_ERR_WS_MESSAGE_TOO_BIG", 1009);
      len = hi * 0x100000000 + chunk.readUInt32BE(q + 4);
      q += 8;
    }
    if (masked) this.maskKey = chunk.readUInt32BE(q);

    if (!control) {
      if (opcode !== OP_CONTINUATION) {
        this.messageOpcode = opcode;
        this.compressed = rsv1;
        this.messageSize = 0;
        if (opcode === OP_TEXT) {
          if (this.utf8 === null) this.utf8 = new Utf8Validator();
          else this.utf8.reset();
        }
      }
      // Uncompressed, the declared length tells at once; compressed, the
      // inflated size is checked as it grows (deflate.ts, dataPiece()).
      if (!this.compressed && this.messageSize + len > this.maxMessageSize) {
        this.fail("message too big", "TSGI_ERR_WS_MESSAGE_TOO_BIG", 1009);
      }
    }
    if (this.onFrame !== null) this.onFrame({ opcode, fin, compressed: rsv1, masked, length: len });
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.maskPhase = 0;
    this.remaining = len;
    this.frameState = PAYLOAD;
    return true;
  }

  /** Takes in a piece of a data frame's payload (unmasked). */
  private dataPiece(piece: Buffer): void {
    if (this.compressed) {
      let out: Buffer;
      try {
        out = this.deflate!.decompress(piece, this.maxMessageSize - this.messageSize);
      } catch (err) {
        this.decompressFailed(err);
      }
      if (out.length > 0) this.addOutput(out);
      return;
    }
    this.messageSize += piece.length;
    this.addOutput(piece);
  }

  /** Message bytes (plain or inflated): UTF-8 checked as they come for text, kept for the event. */
  private addOutput(out: Buffer): void {
    if (this.compressed) {
      this.messageSize += out.length;
      if (this.messageSize > this.maxMessageSize)
        this.fail("message too big", "TSGI_ERR_WS_MESSAGE_TOO_BIG", 1009);
    }
    if (this.messageOpcode === OP_TEXT && !this.utf8!.feed(out)) {
      this.fail("text message is not UTF-8", "TSGI_ERR_WS_INVALID_UTF8", 1007);
    }
    if (this.assembly !== null) this.append(out);
    else if (this.piece === null) this.piece = out;
    else {
      // A second piece: gather from here on (the first one was a view of a received chunk).
      const first = this.piece;
      this.piece = null;
      this.append(first);
      this.append(out);
    }
  }

  /** Copies message bytes into the assembly buffer, growing it when needed. */
  private append(out: Buffer): void {
    const need = this.assembled + out.length;
    if (this.assembly === null || need > this.assembly.length) {
      // The final frame of an uncompressed message declares where it ends
      // (RFC 6455 §5.2: the payload length): allocate exactly that. Else
      // double, never past the limit the message is already checked against.
      const exact = !this.compressed && this.fin ? this.messageSize + this.remaining : 0;
      const size =
        exact >= need
          ? exact
          : Math.max(need, Math.min(this.maxMessageSize, Math.max(2 * need, MIN_ASSEMBLY)));
      const next = Buffer.allocUnsafe(size);
      if (this.assembly !== null) this.assembly.copy(next, 0, 0, this.assembled);
      this.assembly = next;
    }
    out.copy(this.assembly, this.assembled);
    this.assembled = need;
  }

  private decompressFailed(err: unknown): never {
    if (err instanceof InflateLimitError) {
      // The bytes up to the limit come first: split differently, they would
      // have arrived (and been checked) before the limit was passed.
      if (this.messageOpcode === OP_TEXT && !this.utf8!.feed(err.allowed)) {
        this.fail("text message is not UTF-8", "TSGI_ERR_WS_INVALID_UTF8", 1007);
      }
      this.fail("message too big", "TSGI_ERR_WS_MESSAGE_TOO_BIG", 1009);
    }
    if (err instanceof InflateDataError) {
      this.fail("invalid compressed data", "TSGI_ERR_WS_BAD_COMPRESSION", 1007);
    }
    throw err;
  }

  private finishMessage(): TextMessage | BinaryMessage {
    if (this.compressed) {
      let out: Buffer;
      try {
        out = this.deflate!.finishMessage(this.maxMessageSize - this.messageSize);
      } catch (err) {
        this.decompressFailed(err);
      }
      if (out.length > 0) this.addOutput(out);
    }
    const data = this.assembly !== null ? this.assembly.subarray(0, this.assembled) : (this.piece ?? EMPTY);
    const opcode = this.messageOpcode;
    this.piece = null;
    this.assembly = null;
    this.assembled = 0;
    this.messageOpcode = 0;
    this.compressed = false;
    if (opcode === OP_TEXT) {
      if (!this.utf8!.complete)
        this.fail("text message ends mid-character", "TSGI_ERR_WS_INVALID_UTF8", 1007);
      return new ReceivedText(data, 0, data.length);
    }
    return { type: "binary", data };
  }

  private controlFrame(payload: Buffer): WebSocketEvent {
    if (this.opcode === OP_PING) {
      const reply: PingReceived["reply"] = this.closeSent ? null : this.controlFrameBytes(OP_PONG, payload);
      return { type: "ping", data: payload, reply };
    }
    if (this.opcode === OP_PONG) return { type: "pong", data: payload };
    return this.closeFrame(payload);
  }

  /** The peer's close frame (§5.5.1, §7.1.5). */
  private closeFrame(payload: Buffer): CloseReceived {
    let code = 1005;
    let reason = "";
    if (payload.length === 1)
      this.fail("close frame with a 1-byte payload", "TSGI_ERR_WS_BAD_CLOSE_CODE", 1002);
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (!isValidCloseCode(code))
        this.fail(`invalid close code ${code}`, "TSGI_ERR_WS_BAD_CLOSE_CODE", 1002);
      const reasonBytes = payload.subarray(2);
      const check = new Utf8Validator();
      if (!check.feed(reasonBytes) || !check.complete) {
        this.fail("close reason is not UTF-8", "TSGI_ERR_WS_INVALID_UTF8", 1007);
      }
      reason = reasonBytes.toString();
    }
    this.closeReceived = true;
    // Whatever follows the close frame is not data (§5.5.1); drop it.
    this.dropInput();
    let reply: Uint8Array | null = null;
    if (!this.closeSent) {
      // Echo the code, not the reason (§5.5.1 "typically echos the status code it received").
      reply = this.sendClose(payload.length === 0 ? undefined : code);
    }
    return { type: "close", code, reason, reply };
  }

  // ---- sending ---------------------------------------------------------------

  private checkCanSend(): void {
    if (this.disposed) throw new WebSocketUsageError("the connection is closed");
    if (this.closeSent) throw new WebSocketUsageError("a close frame was already sent");
  }

  private controlFrameBytes(opcode: number, data: Uint8Array): Uint8Array {
    if (data.length > 125) throw new WebSocketUsageError("control frame payload over 125 bytes");
    return this.frame(0x80 | opcode, data)[0]!;
  }

  private compressedFrame(opcode: number, data: Uint8Array): Uint8Array[] {
    // RSV1 on the (only) frame marks the message compressed (RFC 7692 §6).
    return this.frame(0xc0 | opcode, this.deflate!.compress(data));
  }

  /** One frame: a single buffer for small payloads (and always in client mode, which must mask a copy). */
  private frame(first: number, data: Uint8Array): Uint8Array[] {
    const len = data.length;
    if (len < SMALL_MESSAGE || this.client) {
      const hl = headerLength(len, this.client);
      const buf = Buffer.allocUnsafe(hl + len);
      const key = writeHeader(buf, first, len, this.client);
      buf.set(data, hl);
      if (key !== null) applyMask(buf, hl, hl + len, key, 0);
      return [buf];
    }
    const header = Buffer.allocUnsafe(headerLength(len, false));
    writeHeader(header, first, len, false);
    return [header, data];
  }
}
