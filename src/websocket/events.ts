/**
 * What the WebSocket core hands to the I/O layer. Plain objects, one per
 * complete message or control frame: fragments are joined (and inflated, and
 * UTF-8-checked) inside the core, so the I/O layer never sees a partial message.
 */

/**
 * A complete text message, already validated as UTF-8. `data` is decoded on
 * first access (an app that forwards the message without reading it never
 * pays for the string); `bytes` are its UTF-8 bytes as received, not to be
 * modified. A string read from `data` and sent back goes out from `bytes`
 * (text.ts).
 */
export interface TextMessage {
  readonly type: "text";
  readonly data: string;
  readonly bytes: Uint8Array;
}

/** A complete binary message. The bytes are the core's own (never reused), so they may be kept. */
export interface BinaryMessage {
  readonly type: "binary";
  readonly data: Uint8Array;
}

/**
 * The peer pinged. `reply` is the pong frame the core prepared (RFC 6455
 * §5.5.2 says to answer): write it unless a close is already under way.
 */
export interface PingReceived {
  readonly type: "ping";
  readonly data: Uint8Array;
  readonly reply: Uint8Array | null;
}

/** The peer answered a ping (or sent an unsolicited pong, which §5.5.3 allows). */
export interface PongReceived {
  readonly type: "pong";
  readonly data: Uint8Array;
}

/**
 * The peer sent a close frame. `code` is 1005 when the frame had no code
 * (1005 is never on the wire). `reply` is the echo close frame when the peer
 * started the closing handshake, or null when it answered ours. After this
 * event the connection should be closed once `reply` is written.
 */
export interface CloseReceived {
  readonly type: "close";
  readonly code: number;
  readonly reason: string;
  readonly reply: Uint8Array | null;
}

/** Everything `WebSocketCore.nextEvent()` can return besides NEED_DATA. */
export type WebSocketEvent = TextMessage | BinaryMessage | PingReceived | PongReceived | CloseReceived;

/** Returned by `nextEvent()` when more bytes are needed. */
export const WS_NEED_DATA: unique symbol = Symbol("WS_NEED_DATA");

/** Where a WebSocket connection stands (same numbers as the WHATWG `readyState`, minus CONNECTING). */
export type WebSocketState =
  /** Messages flow both ways. */
  | "OPEN"
  /** We sent a close frame and wait for the peer's. */
  | "LOCAL_CLOSING"
  /** Both close frames are exchanged, or the connection failed: only closing the socket remains. */
  | "CLOSED";
