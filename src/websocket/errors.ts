/**
 * Errors of the WebSocket core. A peer that breaks RFC 6455 "fails the
 * WebSocket connection" (§7.1.7): {@link WebSocketProtocolError} carries the
 * close code to send before the socket is closed. A handshake that cannot be
 * accepted is a {@link HandshakeError} carrying the HTTP status to answer.
 */

import { TsgiError } from "../http1/tsgi-error.ts";

/** Stable machine-readable codes, listed in docs/errors.md. */
export type WebSocketErrorCode =
  | "TSGI_ERR_WS_UNMASKED_FRAME"
  | "TSGI_ERR_WS_MASKED_FRAME"
  | "TSGI_ERR_WS_RESERVED_BITS"
  | "TSGI_ERR_WS_BAD_OPCODE"
  | "TSGI_ERR_WS_BAD_CONTROL_FRAME"
  | "TSGI_ERR_WS_BAD_FRAGMENTATION"
  | "TSGI_ERR_WS_BAD_LENGTH"
  | "TSGI_ERR_WS_INVALID_UTF8"
  | "TSGI_ERR_WS_MESSAGE_TOO_BIG"
  | "TSGI_ERR_WS_BAD_CLOSE_CODE"
  | "TSGI_ERR_WS_BAD_COMPRESSION"
  | "TSGI_ERR_WS_INVALID_STATE"
  | "TSGI_ERR_WS_HANDSHAKE";

/**
 * The peer broke RFC 6455 (or RFC 7692). Send a close frame with `closeCode`
 * (1002 protocol error, 1007 invalid data, 1009 too big) and close.
 */
export class WebSocketProtocolError extends TsgiError {
  override readonly name = "WebSocketProtocolError";
  constructor(
    message: string,
    /** Stable code; see docs/errors.md. */
    readonly code: WebSocketErrorCode,
    /** The close code to fail the connection with. */
    readonly closeCode: number,
  ) {
    super(message);
  }
}

/** Our side misused the core: a send after close, an invalid close code or a too-long reason or control payload. */
export class WebSocketUsageError extends TsgiError {
  override readonly name = "WebSocketUsageError";
  readonly code: WebSocketErrorCode = "TSGI_ERR_WS_INVALID_STATE";
}

/**
 * A request that asked for a WebSocket but cannot get one: answer `status`
 * (400; 426 with `Sec-WebSocket-Version: 13` for another version; 503 when
 * the server holds its most WebSockets) with `headers`.
 */
export class HandshakeError extends TsgiError {
  override readonly name = "HandshakeError";
  readonly code: WebSocketErrorCode = "TSGI_ERR_WS_HANDSHAKE";
  constructor(
    message: string,
    /** HTTP status to answer with. */
    readonly status: 400 | 426 | 503,
    /** Extra response headers, flat name/value list (e.g. `Sec-WebSocket-Version: 13` for 426). */
    readonly headers: string[] = [],
  ) {
    super(message);
  }
}
