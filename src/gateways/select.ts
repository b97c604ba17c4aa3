/**
 * Picks the gateway for an app: `--interface auto` looks at the app's shape,
 * an explicit interface is checked against it.
 */

import type { Logger } from "../server/log.ts";
import type { Handler } from "../server/server.ts";
import { wsgiGateway } from "./wsgi/gateway.ts";
import type { WSGIApp } from "./wsgi/types.ts";

/** The interfaces an app can speak. More arrive with the Fetch and ASGI gateways. */
export const INTERFACES = ["auto", "wsgi"] as const;
export type Interface = (typeof INTERFACES)[number];

/** The app is not something the chosen interface can serve. */
export class NotAnAppError extends Error {
  override readonly name = "NotAnAppError";
  readonly code = "TSGI_ERR_NOT_AN_APP";
}

/** Decides which interface `app` speaks; throws {@link NotAnAppError} if none. */
export function detectInterface(app: unknown, requested: Interface = "auto"): Exclude<Interface, "auto"> {
  if (typeof app !== "function") {
    throw new NotAnAppError(
      `expected a function (environ, startResponse), got ${app === null ? "null" : typeof app}`,
    );
  }
  if (requested !== "auto") return requested;
  // A WSGI app takes (environ, startResponse). Functions with default or rest
  // parameters report a shorter length, so anything up to 2 counts.
  if (app.length <= 2) return "wsgi";
  throw new NotAnAppError(`cannot tell the interface of a function taking ${app.length} parameters`);
}

/** Builds the server handler for `app`. */
export function gatewayFor(app: unknown, requested: Interface, logger: Logger): Handler {
  switch (detectInterface(app, requested)) {
    case "wsgi":
      return wsgiGateway(app as WSGIApp, { logger });
  }
}
