/**
 * Builds an app's gateway importing only the modules of the gateway it
 * needs: what the command line uses, so that serving a Fetch app does not
 * load the WSGI-style, ASGI-style and node:http-style gateways (every
 * module loaded costs memory for the life of the process:
 * docs/performance.md). The same choices as `buildGateway` in select.ts,
 * which imports them all for the library API (both go through build.ts).
 */

import type { Logger } from "../server/log.ts";
import { buildFrom, type GatewayModules } from "./build.ts";
import { type Gateway, type GatewaySettings, interfaceOf, needsNodeShape } from "./detect.ts";
import type { Interface } from "./interfaces.ts";
import type { NodeAppShape } from "./node/detect.ts";

/** Imports the gateway functions for `kind`, and only those. */
async function modulesFor(kind: Exclude<Interface, "auto">): Promise<GatewayModules> {
  switch (kind) {
    case "wsgi": {
      const [{ wsgiGateway }, { withGuessHint }] = await Promise.all([
        import("./wsgi/gateway.ts"),
        import("./wsgi/guess-hint.ts"),
      ]);
      return { wsgi: { wsgiGateway, withGuessHint } };
    }
    case "fetch": {
      const [{ fetchGateway }, { fetchLifespan }] = await Promise.all([
        import("./fetch/gateway.ts"),
        import("./lifespan.ts"),
      ]);
      return { fetch: { fetchGateway, fetchLifespan } };
    }
    case "asgi":
      return { asgi: { asgiApplication: (await import("./asgi/gateway.ts")).asgiApplication } };
    case "node":
      return { node: { nodeApplication: (await import("./node/app.ts")).nodeApplication } };
  }
}

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
  const kind = interfaceOf(app, requested, nodeShape);
  return buildFrom(kind, requested, app, await modulesFor(kind), logger, settings);
}
