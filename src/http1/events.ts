/**
 * The events the core hands to the I/O layer, and the response heads it takes
 * back. Plain objects: the hot path allocates one per request head, one per
 * body piece and one per end of message, nothing else.
 */

/** How the request body is delimited (RFC 9112 §6.3). */
export type BodyFraming = "none" | "length" | "chunked";

/** A parsed, validated request line and header section. */
export interface RequestHead {
  readonly type: "request";
  /** Method token, case preserved (methods are case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The raw request-target, exactly as sent. */
  readonly target: string;
  /** 10 for HTTP/1.0, 11 for HTTP/1.1. */
  readonly version: 10 | 11;
  /**
   * Field lines in order as a flat list: name, value, name, value, ...
   * Names keep the client's case; values have surrounding whitespace removed.
   * Strings are the wire bytes read as latin-1 (one char per byte).
   */
  readonly headers: string[];
  /** The single Host value ("" when absent, which HTTP/1.0 allows). */
  readonly host: string;
  /** Body framing decided from Content-Length / Transfer-Encoding. */
  readonly framing: BodyFraming;
  /** Body length when known: the Content-Length for "length", 0 for "none", -1 for "chunked". */
  readonly contentLength: number;
  /** The client asked to keep the connection open after this exchange. */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue` on an HTTP/1.1 request that has a body. */
  readonly expectContinue: boolean;
  /** Lower-cased `Upgrade` value when `Connection` lists "upgrade", else "". */
  readonly upgrade: string;
}

/** A piece of the request body (already de-chunked). Views the input bytes; no copy. */
export interface BodyData {
  readonly type: "data";
  readonly data: Uint8Array;
}

/** The request message is complete. */
export interface EndOfMessage {
  readonly type: "end";
  /** Trailer field lines (chunked bodies only), flat name/value list like `RequestHead.headers`. */
  readonly trailers: string[];
}

/** The peer closed its sending side between requests. */
export interface ConnectionClosed {
  readonly type: "closed";
}

/** Everything `nextEvent()` can return besides the two sentinels. */
export type ServerEvent = RequestHead | BodyData | EndOfMessage | ConnectionClosed;

/** Returned by `nextEvent()` when more bytes are needed. */
export const NEED_DATA: unique symbol = Symbol("NEED_DATA");
/**
 * Returned by `nextEvent()` when a complete request has been read and the
 * core will not parse the next pipelined one until `startNextCycle()`.
 */
export const PAUSED: unique symbol = Symbol("PAUSED");

/** A response status line and header fields as the app produced them. */
export interface ResponseHead {
  /** Three-digit status code, 100-999 (RFC 9110 §15). */
  status: number;
  /** Reason phrase; the standard phrase for `status` when omitted. */
  reason?: string;
  /** Flat name/value list, as in `RequestHead.headers`. */
  headers: string[];
}
