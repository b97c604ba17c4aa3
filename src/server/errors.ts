/**
 * Errors of the I/O layer's own objects (the server, the exchange). Codes
 * are listed in docs/errors.md; BindError, TlsConfigError, ProxyConfigError
 * and ProxyProtocolError live next to the code that raises them.
 */

import { TsgiError } from "../http1/tsgi-error.ts";

/** `server.address` or `server.url` read before `listen()` bound an address (or a TCP one, for `address`). */
export class NotListeningError extends TsgiError {
  override readonly name = "NotListeningError";
  readonly code = "TSGI_ERR_NOT_LISTENING";
}

/**
 * A gateway misused its exchange: a response after the response was
 * complete, a body before the head (or a head twice), the body read twice
 * or after the exchange is over.
 */
export class ExchangeStateError extends TsgiError {
  override readonly name = "ExchangeStateError";
  readonly code = "TSGI_ERR_EXCHANGE_STATE";
}

/**
 * The client disconnected: a request body read fails with it, the Fetch
 * request's `signal` is aborted with it, a response body stream is cancelled with it.
 */
export class ClientGoneError extends TsgiError {
  override readonly name = "ClientGoneError";
  readonly code = "TSGI_ERR_CLIENT_GONE";
}
