/**
 * Received text messages whose string is made only when someone asks for it,
 * and the way back: a string that came out of a received message is sent
 * from its original bytes instead of being encoded again.
 *
 * The core checks every text message as UTF-8 while it arrives (RFC 6455
 * §8.1, utf8.ts), so what it hands out is known-good bytes; decoding them is
 * a separate cost that an app forwarding or echoing messages need not pay.
 * Valid UTF-8 decodes to exactly one string and that string encodes back to
 * exactly the same bytes, so reusing them is not an approximation.
 */

/**
 * The received text whose string was read most recently. One slot for the
 * whole process, not per connection: an echo sends what it just received,
 * and a broadcast sends one received string to many connections, both
 * right after reading it. It keeps one message's bytes alive at most.
 */
let lastString: string | null = null;
let lastText: ReceivedText | null = null;

/**
 * A complete text message, already validated as UTF-8 (the `TextMessage`
 * event of `WebSocketCore.nextEvent()`). It holds `source[start..end)`, the
 * message's UTF-8 bytes as received (unmasked, inflated), without a view
 * object until `bytes` is asked for; `data` is decoded on first access and
 * kept. The bytes are the core's own and never reused: do not modify them.
 */
export class ReceivedText {
  readonly type = "text" as const;
  private view: Buffer | null = null;
  private decoded: string | null = null;

  constructor(
    /** The buffer the message's bytes are in (a received chunk, or the message's own buffer). */
    readonly source: Buffer,
    readonly start: number,
    readonly end: number,
  ) {}

  /** The message as a string, decoded (once) on first access. */
  get data(): string {
    let s = this.decoded;
    if (s === null) {
      s = this.source.toString("utf8", this.start, this.end);
      this.decoded = s;
    }
    // Recorded on every read, not only the first: the string about to be sent is the one last read.
    lastString = s;
    lastText = this;
    return s;
  }

  /** The message's UTF-8 bytes (a view; not to be modified). */
  get bytes(): Buffer {
    let v = this.view;
    if (v === null) {
      const { source, start, end } = this;
      v = start === 0 && end === source.length ? source : source.subarray(start, end);
      this.view = v;
    }
    return v;
  }

  /** Length in UTF-8 bytes (no decoding). */
  get byteLength(): number {
    return this.end - this.start;
  }
}

/**
 * The received message `s` was read from, if `s` is the string most
 * recently read from a received message's `data`, else null. The comparison
 * is `===`, by content, so an equal string built another way matches too
 * (same characters, same bytes); V8 answers at once when it is the very same
 * string or the lengths differ.
 */
export function receivedTextOf(s: string): ReceivedText | null {
  return s === lastString ? lastText : null;
}
