/**
 * The errors the ASGI-style gateway raises into apps. send() rejects with
 * one of them, so the app sees the failure where it made the call, and the
 * gateway recognises them when they come back out of the app.
 */

import { TsgiError } from "../../http1/tsgi-error.ts";

/**
 * The app sent an event the protocol does not allow now: a body before
 * `http.response.start`, anything after the response is complete, an event
 * of another scope type, a malformed event. Python servers raise a
 * RuntimeError here; the gateway answers 500 (or closes) if the app lets it escape.
 */
export class ASGIContractError extends TsgiError {
  override readonly name = "ASGIContractError";
  readonly code = "TSGI_ERR_ASGI_CONTRACT";
}

/**
 * send() after the client went away (ASGI HTTP & WebSocket spec 2.4: "a
 * server-specific subclass of OSError"; JavaScript has no OSError, so this
 * is a plain Error with a stable code). An app that lets it escape is not
 * logged as failing: the client is gone, nothing went wrong on our side.
 */
export class ASGIDisconnectedError extends TsgiError {
  override readonly name = "ASGIDisconnectedError";
  readonly code = "TSGI_ERR_ASGI_DISCONNECTED";
}
