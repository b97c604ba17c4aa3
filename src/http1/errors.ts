/**
 * Protocol errors of the HTTP/1.1 core.
 *
 * Two classes, as in h11: a {@link RemoteProtocolError} means the peer sent
 * something we must refuse (it carries the status code to answer with), a
 * {@link LocalProtocolError} means our own side misused the core (an app
 * asked for an invalid status or header, wrote too many bytes, ...). Any
 * other exception escaping the core is a bug.
 */

import { TsgiError } from "./tsgi-error.ts";

/** Stable machine-readable codes, listed in docs/errors.md. */
export type ProtocolErrorCode =
  | "TSGI_ERR_BAD_REQUEST_LINE"
  | "TSGI_ERR_BAD_METHOD"
  | "TSGI_ERR_BAD_TARGET"
  | "TSGI_ERR_BAD_VERSION"
  | "TSGI_ERR_UNSUPPORTED_VERSION"
  | "TSGI_ERR_REQUEST_LINE_TOO_LONG"
  | "TSGI_ERR_BAD_LINE_ENDING"
  | "TSGI_ERR_BAD_HEADER_NAME"
  | "TSGI_ERR_BAD_HEADER_VALUE"
  | "TSGI_ERR_OBS_FOLD"
  | "TSGI_ERR_HEADERS_TOO_LARGE"
  | "TSGI_ERR_TOO_MANY_HEADERS"
  | "TSGI_ERR_BAD_HOST"
  | "TSGI_ERR_BAD_CONTENT_LENGTH"
  | "TSGI_ERR_BAD_TRANSFER_ENCODING"
  | "TSGI_ERR_UNSUPPORTED_TRANSFER_CODING"
  | "TSGI_ERR_CONFLICTING_FRAMING"
  | "TSGI_ERR_BAD_CHUNK"
  | "TSGI_ERR_BODY_TOO_LARGE"
  | "TSGI_ERR_EXPECTATION_FAILED"
  | "TSGI_ERR_CONNECT_NOT_IMPLEMENTED"
  | "TSGI_ERR_INCOMPLETE_MESSAGE"
  | "TSGI_ERR_BAD_STATUS"
  | "TSGI_ERR_BAD_RESPONSE_HEADER"
  | "TSGI_ERR_BODY_LENGTH_MISMATCH"
  | "TSGI_ERR_INVALID_STATE";

/** Base class of both protocol errors. */
export abstract class ProtocolError extends TsgiError {
  /** Stable code for programs and logs; see docs/errors.md. */
  readonly code: ProtocolErrorCode;
  /** The HTTP status a server should answer with when this error ends a request. */
  readonly status: number;

  constructor(message: string, code: ProtocolErrorCode, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/**
 * The peer broke the protocol. `status` is the response to send (400, 413,
 * 414, 417, 431, 501, 505) before closing the connection.
 *
 * @example
 * try { conn.receiveData(bytes); conn.nextEvent(); }
 * catch (err) { if (err instanceof RemoteProtocolError) reply(err.status); }
 */
export class RemoteProtocolError extends ProtocolError {
  override readonly name = "RemoteProtocolError";
}

/**
 * Our side misused the core: an invalid status or header from an app, a body
 * longer than its Content-Length, an event sent in the wrong state. The
 * server answers 500 if nothing was sent yet, else closes the connection.
 */
export class LocalProtocolError extends ProtocolError {
  override readonly name = "LocalProtocolError";

  constructor(message: string, code: ProtocolErrorCode) {
    super(message, code, 500);
  }
}

/**
 * Throws the {@link RemoteProtocolError} that refuses a request (400 unless
 * `status` says otherwise). The parser modules' one way to fail.
 */
export function fail(message: string, code: ProtocolErrorCode, status = 400): never {
  throw new RemoteProtocolError(message, code, status);
}
