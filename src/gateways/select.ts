/**
 * Picks the gateway for an app: `--interface auto` looks at the app's shape,
 * an explicit interface is checked against it.
 */

import type { Logger } from "../server/log.ts";
import type { Handler } from "../server/server.ts";
import { fetchGateway } from "./fetch/gateway.ts";
import type { FetchApp, FetchHandler } from "./fetch/types.ts";
import { wsgiGateway } from "./wsgi/gateway.ts";
import type { WSGIApp } from "./wsgi/types.ts";

/** The interfaces an app can speak. The ASGI-style one arrives with its gateway. */
export const INTERFACES = ["auto", "wsgi", "fetch"] as const;
export type Interface = (typeof INTERFACES)[number];

/** The app is not something the chosen interface can serve. */
export class NotAnAppError extends Error {
  override readonly name = "NotAnAppError";
  readonly code = "TSGI_ERR_NOT_AN_APP";
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

/** Decides which interface `app` speaks; throws {@link NotAnAppError} if none. */
export function detectInterface(app: unknown, requested: Interface = "auto"): Exclude<Interface, "auto"> {
  const hasFetch = app !== null && typeof app === "object" && typeof (app as FetchApp).fetch === "function";
  switch (requested) {
    case "fetch":
      if (hasFetch || typeof app === "function") return "fetch";
      throw new NotAnAppError(`expected an object with a fetch() method or a function, got ${describe(app)}`);
    case "wsgi":
      if (typeof app === "function") return "wsgi";
      throw new NotAnAppError(`expected a function (environ, startResponse), got ${describe(app)}`);
    default:
      // An object with fetch() is a Fetch app (Hono, itty-router, ...). A plain
      // function is taken as WSGI-style: (request, info) and (environ,
      // startResponse) look alike, so Fetch functions need --interface fetch.
      if (hasFetch) return "fetch";
      if (typeof app === "function" && app.length <= 2) return "wsgi";
      if (typeof app === "function") {
        throw new NotAnAppError(`cannot tell the interface of a function taking ${app.length} parameters`);
      }
      throw new NotAnAppError(
        `expected a function (environ, startResponse) or an object with a fetch() method, got ${describe(app)}`,
      );
  }
}

/** Settings that belong to one gateway or another. */
export interface GatewaySettings {
  /** Fetch: install the lightweight Response as `globalThis.Response` (default true). */
  lightResponse?: boolean;
}

/** Builds the server handler for `app`. */
export function gatewayFor(
  app: unknown,
  requested: Interface,
  logger: Logger,
  settings: GatewaySettings = {},
): Handler {
  switch (detectInterface(app, requested)) {
    case "wsgi":
      return wsgiGateway(app as WSGIApp, { logger });
    case "fetch":
      return fetchGateway(app as FetchApp | FetchHandler, { lightResponse: settings.lightResponse });
  }
}
