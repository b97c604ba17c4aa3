/**
 * Picks the gateway for an app: `--interface auto` looks at the app's shape,
 * an explicit interface is checked against it (detect.ts). This file imports
 * every gateway, for the library API; the command line uses load.ts, which
 * imports only the one the app needs.
 */

import type { Logger } from "../server/log.ts";
import type { Handler } from "../server/server.ts";
import { asgiApplication } from "./asgi/gateway.ts";
import type { ASGIApp } from "./asgi/types.ts";
import { type Gateway, type GatewaySettings, interfaceOf, lifespanOptions, NotAnAppError } from "./detect.ts";
import { fetchGateway } from "./fetch/gateway.ts";
import type { FetchApp, FetchHandler } from "./fetch/types.ts";
import { INTERFACES, type Interface } from "./interfaces.ts";
import { fetchLifespan, type LifespanOptions } from "./lifespan.ts";
import { nodeAppShape, nodeHandlerFor } from "./node/detect.ts";
import { wsgiGateway } from "./wsgi/gateway.ts";
import type { WSGIApp } from "./wsgi/types.ts";

export { type Gateway, type GatewaySettings, INTERFACES, type Interface, NotAnAppError };

/** Decides which interface `app` speaks; throws {@link NotAnAppError} if none. */
export function detectInterface(app: unknown, requested: Interface = "auto"): Exclude<Interface, "auto"> {
  return interfaceOf(app, requested, nodeAppShape);
}

/**
 * Builds the server handler for `app`. Its lifespan is dropped: servers that
 * run it use {@link buildGateway}.
 */
export function gatewayFor(
  app: unknown,
  requested: Interface,
  logger: Logger,
  settings: GatewaySettings = {},
): Handler {
  return buildGateway(app, requested, logger, settings).handler;
}

/**
 * Builds the server handler for `app` and its lifespan: the lifespan scope of
 * an ASGI-style app, the `startup()`/`shutdown()` hooks of a Fetch app; a
 * WSGI-style app has none.
 */
export function buildGateway(
  app: unknown,
  requested: Interface,
  logger: Logger,
  settings: GatewaySettings = {},
): Gateway {
  const lifespan: LifespanOptions = lifespanOptions(settings);
  switch (detectInterface(app, requested)) {
    case "wsgi":
      return {
        handler: wsgiGateway(app as WSGIApp, {
          logger,
          flags: { multiprocess: settings.multiprocess ?? false },
        }),
        lifespan: null,
      };
    case "fetch":
      return {
        handler: fetchGateway(app as FetchApp | FetchHandler, {
          lightResponse: settings.lightResponse,
          logger,
        }),
        lifespan: fetchLifespan(app, lifespan, logger),
      };
    case "asgi":
      return asgiApplication(app as ASGIApp, { logger, ...lifespan });
    case "node":
      return { handler: nodeHandlerFor(app), lifespan: null };
  }
}
