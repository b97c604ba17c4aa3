/**
 * Bytes in, lines out: the parser's input buffer. It keeps the unconsumed
 * bytes of one connection (`buf[pos..]`), joins partial reads without
 * quadratic copying, and finds line ends so that a head arriving in many
 * pieces is scanned only once. It knows nothing of HTTP grammar: the request
 * parser extends it (a base class, not a member, so the hot path reads
 * `this.buf` with no extra hop).
 */

import { CR, LF } from "./chars.ts";
import { fail, RemoteProtocolError } from "./errors.ts";

const EMPTY = Buffer.alloc(0);
/** Smallest buffer allocated to join partial input. */
const MIN_STORAGE = 1024;
/** How far findLineEnd looks byte by byte before handing the search to Buffer#indexOf. */
const SHORT_LINE = 64;

/** Input buffer and line scanner of one connection. */
export class LineReader {
  /** Unconsumed input is `buf[pos..]`. */
  protected buf: Buffer = EMPTY;
  protected pos = 0;
  /** Where the line being read starts, and how far it was already searched for its LF. */
  protected lineStart = 0;
  protected scan = 0;
  /** The peer closed its sending side: no more bytes will come. */
  protected eof = false;
  /** Our own growable memory when `buf` lives in it (null when `buf` is a caller's chunk). */
  private storage: Buffer | null = null;

  /** Bytes received but not yet turned into events. */
  get bufferedBytes(): number {
    return this.buf.length - this.pos;
  }

  /** Appends bytes from the peer. */
  receiveData(data: Uint8Array): void {
    if (this.eof) throw new RemoteProtocolError("data after end of stream", "TSGI_ERR_INVALID_STATE", 400);
    if (data.length === 0) return;
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const unread = this.buf.length - this.pos;
    if (unread === 0) {
      // The common case: everything before was consumed; parse the chunk in place.
      this.rebase(this.pos);
      this.buf = chunk;
      this.storage = null;
      return;
    }
    const storage = this.storage;
    if (storage !== null && this.buf.length + chunk.length <= storage.length) {
      // Room left in our own buffer: append without moving what is there, so
      // body views already handed out stay valid.
      storage.set(chunk, this.buf.length);
      this.buf = storage.subarray(0, this.buf.length + chunk.length);
      return;
    }
    // Grow geometrically: a head trickling in byte by byte costs linear, not
    // quadratic, copying.
    const needed = unread + chunk.length;
    const grown = Buffer.allocUnsafeSlow(Math.max(needed * 2, MIN_STORAGE));
    this.buf.copy(grown, 0, this.pos);
    grown.set(chunk, unread);
    this.rebase(this.pos);
    this.storage = grown;
    this.buf = grown.subarray(0, needed);
  }

  /** The peer closed its sending side. */
  receiveEOF(): void {
    this.eof = true;
  }

  /**
   * The LF that ends the line starting at `lineStart`, or -1 when it has not
   * arrived yet. Searches only bytes not searched before.
   */
  protected findLineEnd(): number {
    const buf = this.buf;
    const length = buf.length;
    // Most lines of a head are short: a loop here beats the call into
    // Buffer#indexOf (native, with its own setup) until about this far.
    const near = Math.min(length, this.scan + SHORT_LINE);
    for (let i = this.scan; i < near; i++) if (buf[i] === LF) return i;
    const lf = near === length ? -1 : buf.indexOf(LF, near);
    if (lf === -1) this.scan = length;
    return lf;
  }

  /**
   * Consumes the line ending at `lf`; it must end in CRLF. RFC 9112 §2.2 lets
   * a server accept a bare LF as a line terminator; we do not, because a
   * proxy in front of us may read the same bytes differently (request
   * smuggling).
   */
  protected takeLine(lf: number): void {
    if (lf === this.lineStart || this.buf[lf - 1] !== CR) {
      fail("line not terminated by CRLF", "TSGI_ERR_BAD_LINE_ENDING");
    }
    this.scan = this.lineStart = lf + 1;
  }

  /** Starts line scanning at `pos` (a new head or trailer section begins there). */
  protected startLines(): void {
    this.scan = this.lineStart = this.pos;
  }

  /** Hands over the unconsumed bytes and forgets them. */
  protected takeRest(): Uint8Array {
    const rest = this.buf.subarray(this.pos);
    this.buf = EMPTY;
    this.storage = null;
    this.pos = this.scan = this.lineStart = 0;
    return rest;
  }

  /**
   * Lets go of the bytes once every one of them is consumed (a message just
   * ended with nothing after it), rather than at the next read: a keep-alive
   * connection idles between requests holding no read, so its memory (and, for
   * a read carved from a shared slab, the slab) can be reclaimed by the next
   * scavenge instead of surviving it.
   */
  protected releaseIfConsumed(): void {
    if (this.pos !== this.buf.length) return;
    this.buf = EMPTY;
    this.storage = null;
    this.pos = this.scan = this.lineStart = 0;
  }

  /** Shifts offsets when the buffer is replaced so they keep pointing at the same bytes. */
  private rebase(shift: number): void {
    this.scan -= shift;
    this.lineStart -= shift;
    this.pos -= shift;
  }
}
