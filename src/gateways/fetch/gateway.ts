/**
 * The Fetch gateway: serves an object with `fetch(request, info)` (Hono,
 * itty-router, Elysia, ...) or a plain `(request, info) => Response`
 * function. Each exchange becomes a lazy Request; the returned Response (or
 * promise of one) is written back. A handler that throws or rejects gets a
 * 500; a body stream that fails midway closes the connection.
 */

import type { Handler } from "../../server/server.ts";
import { installLightResponse } from "./light-response.ts";
import { LazyRequest } from "./request.ts";
import { FetchGatewayError, writeResponse } from "./response.ts";
import type { FetchApp, FetchHandler } from "./types.ts";

/** Options of {@link fetchGateway}. */
export interface FetchGatewayOptions {
  /**
   * Install the lightweight `Response` as `globalThis.Response` so apps'
   * `new Response(...)` takes the fast path. Default true.
   */
  lightResponse?: boolean;
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
  return (ex) => {
    let result: Response | Promise<Response>;
    try {
      result = handler(new LazyRequest(ex) as unknown as Request, ex.info);
    } catch (err) {
      ex.fail(err);
      return;
    }
    if (result !== null && typeof (result as Promise<Response>).then === "function") {
      (result as Promise<Response>).then(
        (response) => send(ex, response),
        (err) => {
          if (!ex.finished) ex.fail(err);
        },
      );
      return;
    }
    send(ex, result as Response);
  };
}

function send(ex: Parameters<Handler>[0], response: unknown): void {
  if (ex.finished) return; // the client went away while the app worked
  try {
    writeResponse(ex, response);
  } catch (err) {
    if (!ex.finished) ex.fail(err);
  }
}
