/**
 * The Fetch gateway: serves an object with `fetch(request, info)` (Hono,
 * itty-router, Elysia, ...) or a plain `(request, info) => Response`
 * function. Each exchange becomes a lazy Request; the returned Response (or
 * promise of one) is written back. A handler that throws or rejects gets a
 * 500; a body stream that fails midway closes the connection.
 */

import type { Exchange } from "../../server/exchange.ts";
import type { Logger } from "../../server/log.ts";
import type { Handler } from "../../server/server.ts";
import { installLightResponse, LightResponse } from "./light-response.ts";
import { installRequestGlobals, LazyRequest } from "./request.ts";
import { FetchGatewayError, isResponseLike, writeResponse } from "./response.ts";
import type { FetchApp, FetchHandler } from "./types.ts";
import { completeUpgrade, isHandshakeError, respondHandshakeError } from "./websocket.ts";

/** Options of {@link fetchGateway}. */
export interface FetchGatewayOptions {
  /**
   * Install the lightweight `Response` as `globalThis.Response` so apps'
   * `new Response(...)` takes the fast path. Default true.
   */
  lightResponse?: boolean;
  /** Receives errors thrown by WebSocket event listeners. */
  logger?: Logger;
}

/** The handler function of an app, or throws a FetchGatewayError. */
export function fetchHandlerOf(app: unknown): FetchHandler {
  if (typeof app === "function") return app as FetchHandler;
  if (app !== null && typeof app === "object" && typeof (app as FetchApp).fetch === "function") {
    const target = app as FetchApp;
    return (request, info) => target.fetch(request, info);
  }
  throw new FetchGatewayError("a Fetch app is an object with a fetch(request) method, or a function");
}

/**
 * Turns a Fetch app into a server handler.
 *
 * @example
 * const server = new Server(fetchGateway({ fetch: () => new Response("hi") }), { port: 8000 });
 */
export function fetchGateway(app: FetchApp | FetchHandler, options: FetchGatewayOptions = {}): Handler {
  const handler = fetchHandlerOf(app);
  if (options.lightResponse !== false) installLightResponse();
  // Always: apps get the lazy Request whatever the Response option says.
  installRequestGlobals();
  // This gateway's logger, handed to each socket it opens: never a module global, so two servers in
  // one process each log their own sockets' listener errors.
  const logger = options.logger ?? null;
  return (ex) => {
    let result: Response | Promise<Response>;
    const request = new LazyRequest(ex) as unknown as Request;
    if (ex.tracer !== null) traceCall(ex, request);
    try {
      result = handler(request, ex.info);
    } catch (err) {
      failed(ex, err, logger);
      return;
    }
    if (result !== null && typeof (result as Promise<Response>).then === "function") {
      (result as Promise<Response>).then(
        (response) => send(ex, response, logger),
        (err) => failed(ex, err, logger),
      );
      return;
    }
    send(ex, result as Response, logger);
  };
}

function send(ex: Exchange, response: unknown, logger: Logger | null): void {
  if (ex.tracer !== null) traceResult(ex, response);
  try {
    // Only an upgrade request can have a WebSocket pending (upgradeWebSocket checks the handshake first).
    if (ex.request.upgrade !== "" && completeUpgrade(ex, response, logger)) return;
    if (ex.finished) return; // the client went away while the app worked
    writeResponse(ex, response);
  } catch (err) {
    failed(ex, err, logger);
  }
}

/** A handshake error the app let escape gets its own status; anything else is a 500. */
function failed(ex: Exchange, err: unknown, logger: Logger | null): void {
  if (ex.tracer !== null)
    ex.trace("app", `the handler threw: ${err instanceof Error ? err.message : String(err)}`);
  completeUpgrade(ex, null, logger); // a socket the app made will not open
  if (ex.finished) return;
  if (isHandshakeError(err) && !ex.headersSent) respondHandshakeError(ex, err);
  else ex.fail(err);
}

// ---- --trace ----------------------------------------------------------------

function traceCall(ex: Exchange, request: Request): void {
  ex.trace(
    "gateway",
    `Fetch: a lazy Request for ${request.method} ${request.url}\n` +
      "(headers, body stream and signal are built only if the app asks for them)",
  );
  ex.trace("app", "calling fetch(request, info)");
}

function traceResult(ex: Exchange, response: unknown): void {
  if (!(response instanceof Response) && !isResponseLike(response)) {
    ex.trace("app", `returned ${response === null ? "null" : typeof response}, not a Response`);
    return;
  }
  if (response.status === 101) {
    ex.trace("app", "returned the WebSocket upgrade response");
    return;
  }
  const light = response instanceof LightResponse && LightResponse.parts(response) !== null;
  ex.trace(
    "app",
    `returned Response ${response.status} (${light ? "a string or bytes body: written with its head" : "body read from its stream"})`,
  );
}
