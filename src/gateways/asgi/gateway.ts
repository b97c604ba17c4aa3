/**
 * The ASGI-style gateway: one app call per request (http scope) or per
 * WebSocket (websocket scope), and the lifespan scope around them. The
 * scopes get a shallow copy of the lifespan `state`, per the spec.
 */

import type { Exchange } from "../../server/exchange.ts";
import type { Logger } from "../../server/log.ts";
import type { Handler } from "../../server/server.ts";
import { DEFAULT_LIFESPAN, type Lifespan, type LifespanOptions } from "../lifespan.ts";
import { HTTPRun } from "./http.ts";
import { ASGILifespan } from "./lifespan.ts";
import { httpScope } from "./scope.ts";
import type { ASGIApp, ASGIState } from "./types.ts";
import { handleWebSocket } from "./websocket.ts";

/** Options of {@link asgiGateway}. */
export interface ASGIGatewayOptions {
  /** Logger for app errors. */
  logger: Logger;
  /** The lifespan state to copy into each scope (the {@link ASGILifespan}'s `state`). Default empty. */
  state?: ASGIState;
}

/**
 * Turns an ASGI-style app into a server handler. For the lifespan scope, see
 * {@link asgiApplication}, which builds both.
 *
 * @example
 * const server = new Server(asgiGateway(app, { logger }), { port: 8000 });
 */
export function asgiGateway(app: ASGIApp, options: ASGIGatewayOptions): Handler {
  const { logger } = options;
  const state = options.state ?? {};
  return (ex: Exchange) => {
    if (ex.request.upgrade === "websocket") {
      handleWebSocket(app, ex, state, logger);
      return;
    }
    new HTTPRun(ex, logger).run(app, httpScope(ex.request, ex.info, state));
  };
}

/**
 * The handler and the lifespan of an ASGI-style app, sharing one `state`.
 * `lifespan` is null when the mode is "off".
 *
 * @example
 * const { handler, lifespan } = asgiApplication(app, { logger });
 * await lifespan?.startup();
 * const server = new Server(handler, { port: 8000 });
 */
export function asgiApplication(
  app: ASGIApp,
  options: ASGIGatewayOptions & Partial<LifespanOptions>,
): { handler: Handler; lifespan: Lifespan | null } {
  const lifespanOptions: LifespanOptions = {
    lifespan: options.lifespan ?? DEFAULT_LIFESPAN.lifespan,
    startupTimeout: options.startupTimeout ?? DEFAULT_LIFESPAN.startupTimeout,
    shutdownTimeout: options.shutdownTimeout ?? DEFAULT_LIFESPAN.shutdownTimeout,
  };
  if (lifespanOptions.lifespan === "off") {
    return { handler: asgiGateway(app, { logger: options.logger, state: options.state }), lifespan: null };
  }
  const lifespan = new ASGILifespan(app, lifespanOptions, options.logger);
  return { handler: asgiGateway(app, { logger: options.logger, state: lifespan.state }), lifespan };
}
