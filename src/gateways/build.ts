/**
 * Builds an app's gateway from the interface it speaks and the gateway
 * functions at hand: select.ts passes every gateway (imported statically,
 * for the library API), load.ts only the one the app needs (imported on
 * demand, for the command line). One place decides how each is built.
 */

import type { Logger } from "../server/log.ts";
import type { asgiApplication } from "./asgi/gateway.ts";
import type { ASGIApp } from "./asgi/types.ts";
import { type Gateway, type GatewaySettings, lifespanOptions } from "./detect.ts";
import type { fetchGateway } from "./fetch/gateway.ts";
import type { FetchApp, FetchHandler } from "./fetch/types.ts";
import type { Interface } from "./interfaces.ts";
import type { fetchLifespan } from "./lifespan.ts";
import type { nodeApplication } from "./node/app.ts";
import type { wsgiGateway } from "./wsgi/gateway.ts";
import type { withGuessHint } from "./wsgi/guess-hint.ts";
import type { WSGIApp } from "./wsgi/types.ts";

/** The gateway functions; only the one for the app's interface must be present. */
export interface GatewayModules {
  wsgi?: { wsgiGateway: typeof wsgiGateway; withGuessHint: typeof withGuessHint };
  fetch?: { fetchGateway: typeof fetchGateway; fetchLifespan: typeof fetchLifespan };
  asgi?: { asgiApplication: typeof asgiApplication };
  node?: { nodeApplication: typeof nodeApplication };
}

/**
 * The handler and lifespan for `app`, which speaks `kind` (as `requested`
 * was resolved by `interfaceOf`): an ASGI-style app's lifespan scope, a
 * Fetch app's `startup()`/`shutdown()`, a node-style server's events.
 */
export function buildFrom(
  kind: Exclude<Interface, "auto">,
  requested: Interface,
  app: unknown,
  modules: GatewayModules,
  logger: Logger,
  settings: GatewaySettings,
): Gateway {
  const lifespan = lifespanOptions(settings);
  switch (kind) {
    case "wsgi": {
      const { wsgiGateway, withGuessHint } = modules.wsgi!;
      const wsgi = requested === "auto" ? withGuessHint(app as WSGIApp, logger) : (app as WSGIApp);
      return {
        handler: wsgiGateway(wsgi, { logger, flags: { multiprocess: settings.multiprocess ?? false } }),
        lifespan: null,
      };
    }
    case "fetch": {
      const { fetchGateway, fetchLifespan } = modules.fetch!;
      return {
        handler: fetchGateway(app as FetchApp | FetchHandler, {
          lightResponse: settings.lightResponse,
          logger,
        }),
        lifespan: fetchLifespan(app, lifespan, logger),
      };
    }
    case "asgi":
      return modules.asgi!.asgiApplication(app as ASGIApp, { logger, ...lifespan });
    case "node":
      return modules.node!.nodeApplication(app, lifespan, logger);
  }
}
