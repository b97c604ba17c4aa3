/**
 * Picks the gateway for an app: `--interface auto` looks at the app's shape,
 * an explicit interface is checked against it (detect.ts). This file imports
 * every gateway, for the library API; the command line uses load.ts, which
 * imports only the one the app needs.
 */

import type { Logger } from "../server/log.ts";
import type { Handler } from "../server/server.ts";
import { asgiApplication } from "./asgi/gateway.ts";
import { buildFrom, type GatewayModules } from "./build.ts";
import { type Gateway, type GatewaySettings, interfaceOf, NotAnAppError } from "./detect.ts";
import { fetchGateway } from "./fetch/gateway.ts";
import { INTERFACES, type Interface } from "./interfaces.ts";
import { fetchLifespan } from "./lifespan.ts";
import { nodeApplication } from "./node/app.ts";
import { nodeAppShape } from "./node/detect.ts";
import { wsgiGateway } from "./wsgi/gateway.ts";
import { withGuessHint } from "./wsgi/guess-hint.ts";

export { type Gateway, type GatewaySettings, INTERFACES, type Interface, NotAnAppError };

const ALL: GatewayModules = {
  wsgi: { wsgiGateway, withGuessHint },
  fetch: { fetchGateway, fetchLifespan },
  asgi: { asgiApplication },
  node: { nodeApplication },
};

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
 * an ASGI-style app, the `startup()`/`shutdown()` hooks of a Fetch app, a
 * node-style server's events; a WSGI-style app has none.
 */
export function buildGateway(
  app: unknown,
  requested: Interface,
  logger: Logger,
  settings: GatewaySettings = {},
): Gateway {
  return buildFrom(detectInterface(app, requested), requested, app, ALL, logger, settings);
}
