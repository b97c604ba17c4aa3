/**
 * Builds an app's gateway importing only the modules of the gateway it
 * needs: what the command line uses, so that serving a Fetch app does not
 * load the WSGI-style, ASGI-style and node:http-style gateways (every
 * module loaded costs memory for the life of the process:
 * docs/performance.md). The same choices as `buildGateway` in select.ts,
 * which imports them all for the library API.
 */

import type { Logger } from "../server/log.ts";
import type { ASGIApp } from "./asgi/types.ts";
import {
  type Gateway,
  type GatewaySettings,
  interfaceOf,
  lifespanOptions,
  needsNodeShape,
} from "./detect.ts";
import type { FetchApp, FetchHandler } from "./fetch/types.ts";
import type { Interface } from "./interfaces.ts";
import type { NodeAppShape } from "./node/detect.ts";
import type { WSGIApp } from "./wsgi/types.ts";

/**
 * Builds the server handler for `app` and its lifespan, as `buildGateway`
 * does, after importing the one gateway it takes.
 * @throws NotAnAppError if the app does not speak `requested`.
 */
export async function loadGateway(
  app: unknown,
  requested: Interface,
  logger: Logger,
  settings: GatewaySettings = {},
): Promise<Gateway> {
  let nodeShape: (app: unknown) => NodeAppShape | null = () => null;
  if (needsNodeShape(app, requested)) nodeShape = (await import("./node/detect.ts")).nodeAppShape;
  switch (interfaceOf(app, requested, nodeShape)) {
    case "wsgi": {
      const { wsgiGateway } = await import("./wsgi/gateway.ts");
      return {
        handler: wsgiGateway(app as WSGIApp, {
          logger,
          flags: { multiprocess: settings.multiprocess ?? false },
        }),
        lifespan: null,
      };
    }
    case "fetch": {
      const [{ fetchGateway }, { fetchLifespan }] = await Promise.all([
        import("./fetch/gateway.ts"),
        import("./lifespan.ts"),
      ]);
      return {
        handler: fetchGateway(app as FetchApp | FetchHandler, {
          lightResponse: settings.lightResponse,
          logger,
        }),
        lifespan: fetchLifespan(app, lifespanOptions(settings), logger),
      };
    }
    case "asgi": {
      const { asgiApplication } = await import("./asgi/gateway.ts");
      return asgiApplication(app as ASGIApp, { logger, ...lifespanOptions(settings) });
    }
    case "node": {
      const { nodeHandlerFor } = await import("./node/detect.ts");
      return { handler: nodeHandlerFor(app), lifespan: null };
    }
  }
}
