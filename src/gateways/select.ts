/**
 * Picks the gateway for an app: `--interface auto` looks at the app's shape,
 * an explicit interface is checked against it.
 */

import type { Logger } from "../server/log.ts";
import type { Handler } from "../server/server.ts";
import { asgiApplication } from "./asgi/gateway.ts";
import type { ASGIApp } from "./asgi/types.ts";
import { NotAnAppError } from "./errors.ts";
import { fetchGateway } from "./fetch/gateway.ts";
import type { FetchApp, FetchHandler } from "./fetch/types.ts";
import { DEFAULT_LIFESPAN, fetchLifespan, type Lifespan, type LifespanOptions } from "./lifespan.ts";
import { nodeApplication } from "./node/app.ts";
import { nodeAppShape } from "./node/detect.ts";
import { wsgiGateway } from "./wsgi/gateway.ts";
import type { WSGIApp } from "./wsgi/types.ts";

/** The interfaces an app can speak. */
export const INTERFACES = ["auto", "wsgi", "fetch", "asgi", "node"] as const;
export type Interface = (typeof INTERFACES)[number];

export { NotAnAppError };

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

/** Declared with `async`: it returns a promise, whatever its body does. */
function isAsyncFunction(fn: unknown): boolean {
  return Object.prototype.toString.call(fn) === "[object AsyncFunction]";
}

/**
 * Why an async function is not served as WSGI-style. Its promise would be
 * taken for the response body and every request would be a 500; one or two
 * parameters are most likely a Fetch handler `(request, info)`, so the
 * message names the option that serves it rather than guessing silently.
 */
function asyncNotWsgi(fn: { readonly length: number }, requested: "auto" | "wsgi"): string {
  const n = fn.length;
  const params = `${n} parameter${n === 1 ? "" : "s"}`;
  const lead =
    requested === "wsgi" ? "--interface wsgi needs a synchronous function (environ, startResponse); " : "";
  return (
    `${lead}an async function of ${params} cannot be a WSGI-style app; ` +
    "it looks like a Fetch handler (request, info): run it with --interface fetch " +
    "(or export an object with a fetch() method), or, for a node:http-style handler (req, res), --interface node"
  );
}

/** Decides which interface `app` speaks; throws {@link NotAnAppError} if none. */
export function detectInterface(app: unknown, requested: Interface = "auto"): Exclude<Interface, "auto"> {
  const hasFetch = app !== null && typeof app === "object" && typeof (app as FetchApp).fetch === "function";
  switch (requested) {
    case "fetch":
      if (hasFetch || typeof app === "function") return "fetch";
      throw new NotAnAppError(`expected an object with a fetch() method or a function, got ${describe(app)}`);
    case "wsgi":
      if (typeof app === "function" && isAsyncFunction(app))
        throw new NotAnAppError(asyncNotWsgi(app, "wsgi"));
      if (typeof app === "function") return "wsgi";
      throw new NotAnAppError(`expected a function (environ, startResponse), got ${describe(app)}`);
    case "asgi":
      if (typeof app === "function") return "asgi";
      throw new NotAnAppError(`expected an async function (scope, receive, send), got ${describe(app)}`);
    case "node":
      if (typeof app === "function" || nodeAppShape(app) !== null) return "node";
      throw new NotAnAppError(
        `expected a function (req, res), an Express, Koa or Fastify app, or an http.Server not listening, got ${describe(app)}`,
      );
    default:
      // An object with fetch() is a Fetch app (Hono, itty-router, ...). A plain
      // function is taken as WSGI-style: (request, info) and (environ,
      // startResponse) look alike, so Fetch functions need --interface fetch.
      // Three declared parameters are ASGI's (scope, receive, send); default and
      // rest parameters do not count in `length`, so such apps name their interface.
      if (hasFetch) return "fetch";
      // Fastify (ready(), close(), inject(), routing() and a server), Express
      // (a function with handle() and set()), Koa (callback() and use()), an
      // http.Server: node:http-style, checked before the parameter counts (an
      // Express app takes three).
      if (nodeAppShape(app) !== null) return "node";
      if (typeof app === "function" && app.length <= 2) {
        // A WSGI-style app answers synchronously; an async function never can.
        if (isAsyncFunction(app)) throw new NotAnAppError(asyncNotWsgi(app, "auto"));
        return "wsgi";
      }
      if (typeof app === "function" && app.length === 3) return "asgi";
      if (typeof app === "function") {
        throw new NotAnAppError(`cannot tell the interface of a function taking ${app.length} parameters`);
      }
      throw new NotAnAppError(
        `expected a function (environ, startResponse), an async function (scope, receive, send) or an object with a fetch() method, got ${describe(app)}`,
      );
  }
}

/**
 * A function of one or two parameters is taken for WSGI-style by `--interface
 * auto`, but a node:http-style `(req, res)` handler or a Fetch handler
 * `(request)` looks the same. When such an app fails with a TypeError
 * (`res.setHeader is not a function`), the first failure also says how to
 * choose the interface.
 */
function withGuessHint(app: WSGIApp, logger: Logger): WSGIApp {
  let hinted = false;
  return (environ, startResponse) => {
    try {
      return app(environ, startResponse);
    } catch (err) {
      if (!hinted && err instanceof TypeError) {
        hinted = true;
        logger.warning(
          `--interface auto took this ${app.length}-parameter function for a WSGI-style app (environ, startResponse); ` +
            "a node:http-style handler (req, res) needs --interface node, a Fetch handler (request) --interface fetch",
        );
      }
      throw err;
    }
  };
}

/** Settings that belong to one gateway or another. */
export interface GatewaySettings extends Partial<LifespanOptions> {
  /** Fetch: install the lightweight Response as `globalThis.Response` (default true). */
  lightResponse?: boolean;
  /** WSGI-style: `wsgi.multiprocess`, true when other worker processes run the same app (default false). */
  multiprocess?: boolean;
}

/**
 * A server handler and the app's lifespan (null when it has none, or
 * `lifespan` is "off"; a node-style server's is never off: see node/app.ts).
 */
export interface Gateway {
  handler: Handler;
  lifespan: Lifespan | null;
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
 * an ASGI-style app, the `startup()`/`shutdown()` hooks of a Fetch app, the
 * `ready()`/`close()` of a Fastify app and the `'listening'`/`'close'` of an
 * `http.Server` served in place of its `listen()`; a WSGI-style app, an
 * Express or Koa app have none.
 */
export function buildGateway(
  app: unknown,
  requested: Interface,
  logger: Logger,
  settings: GatewaySettings = {},
): Gateway {
  const lifespan: LifespanOptions = {
    lifespan: settings.lifespan ?? DEFAULT_LIFESPAN.lifespan,
    startupTimeout: settings.startupTimeout ?? DEFAULT_LIFESPAN.startupTimeout,
    shutdownTimeout: settings.shutdownTimeout ?? DEFAULT_LIFESPAN.shutdownTimeout,
  };
  switch (detectInterface(app, requested)) {
    case "wsgi":
      return {
        handler: wsgiGateway(
          requested === "auto" ? withGuessHint(app as WSGIApp, logger) : (app as WSGIApp),
          {
            logger,
            flags: { multiprocess: settings.multiprocess ?? false },
          },
        ),
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
      return nodeApplication(app, lifespan, logger);
  }
}
