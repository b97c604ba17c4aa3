/**
 * The readiness endpoint (`--health-path`): answered by the server before the
 * app is called, 200 while the server takes traffic and 503 from the moment
 * it starts shutting down. With `--shutdown-delay` the 503 comes first and
 * the shutdown seconds later, so a load balancer or Kubernetes stops sending
 * new requests before connections start closing.
 */

import type { Exchange } from "./exchange.ts";
import { type Handler, wrapHandler } from "./server.ts";

const TEXT = ["Content-Type", "text/plain; charset=utf-8", "Cache-Control", "no-store"];
const OK = Buffer.from("ok\n");
const DRAINING = Buffer.from("shutting down\n");

/** True when `target` is `path`, with or without a query. */
function matches(target: string, path: string): boolean {
  return target.startsWith(path) && (target.length === path.length || target[path.length] === "?");
}

/**
 * Wraps `handler` so that requests for `path` get 200 while `ready()` is
 * true and 503 once it is false; every other request goes to `handler`.
 *
 * @example
 * let ready = true;
 * const handler = withHealthCheck(app.handler, "/healthz", () => ready && !server.shuttingDown);
 */
export function withHealthCheck(handler: Handler, path: string, ready: () => boolean): Handler {
  return wrapHandler(handler, (ex: Exchange) => {
    if (!matches(ex.request.target, path)) {
      handler(ex);
      return;
    }
    const up = ready();
    ex.respond({ status: up ? 200 : 503, headers: TEXT }, up ? OK : DRAINING);
  });
}
