/**
 * Which apps the node:http-style gateway serves, by shape: `--interface
 * auto` recognises the three shapes below before its three-parameter ASGI
 * rule (an Express app takes `(req, res, next)`, three parameters); a plain
 * `(req, res)` function is served only with `--interface node`.
 */

import { Server as HttpServer } from "node:http";
import { Server as NetServer } from "node:net";
import { TsgiError } from "../../http1/tsgi-error.ts";
import type { Handler } from "../../server/server.ts";
import { emitterGateway } from "./dispatch.ts";
import { type NodeListener, nodeGateway } from "./gateway.ts";

/** The node-style app shapes `--interface auto` recognises. */
export type NodeAppShape = "express" | "koa" | "server";

/**
 * - `"express"`: a function with `handle()` and `set()` methods (an Express
 *   app; also Connect-like apps that have both);
 * - `"koa"`: an object with `callback()` and `use()` methods (a Koa app;
 *   served through `app.callback()`);
 * - `"server"`: an `http.Server` (or a `tsgi/node` server) made but not
 *   listened: tsgi emits `'request'` (and `'upgrade'`) on it.
 */
export function nodeAppShape(app: unknown): NodeAppShape | null {
  if (typeof app === "function") {
    const f = app as { handle?: unknown; set?: unknown };
    return typeof f.handle === "function" && typeof f.set === "function" ? "express" : null;
  }
  if (app === null || typeof app !== "object") return null;
  if (app instanceof HttpServer || (app instanceof NetServer && "maxHeadersCount" in app)) return "server";
  const o = app as { callback?: unknown; use?: unknown };
  return typeof o.callback === "function" && typeof o.use === "function" ? "koa" : null;
}

/** A server that is already listening cannot be served by tsgi as well. */
export class ServerListeningError extends TsgiError {
  override readonly name = "ServerListeningError";
  readonly code = "TSGI_ERR_NOT_AN_APP";
}

/**
 * The tsgi handler for a node-style app: an Express app or plain `(req,
 * res)` function is the listener, a Koa app gives `app.callback()`, an
 * `http.Server` gets its events emitted.
 * @throws ServerListeningError for an `http.Server` that is already listening.
 */
export function nodeHandlerFor(app: unknown): Handler {
  switch (nodeAppShape(app)) {
    case "koa":
      return nodeGateway((app as { callback(): NodeListener }).callback());
    case "server":
      if ((app as NetServer).listening) {
        throw new ServerListeningError(
          "the http.Server is already listening: create it without calling listen() and let tsgi serve it",
        );
      }
      return emitterGateway(app as HttpServer);
    default:
      return nodeGateway(app as NodeListener);
  }
}
