/**
 * Which interface an app speaks (`--interface auto` looks at the app's
 * shape, an explicit interface is checked against it), without loading any
 * gateway: select.ts builds a gateway from every one it imports, load.ts
 * imports only the one an app needs.
 */

import type { Handler } from "../server/server.ts";
import { NotAnAppError } from "./errors.ts";
import type { FetchApp } from "./fetch/types.ts";
import type { Interface } from "./interfaces.ts";
import { DEFAULT_LIFESPAN, type Lifespan, type LifespanOptions } from "./lifespan.ts";
import type { NodeAppShape } from "./node/detect.ts";

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

/**
 * Decides which interface `app` speaks; throws {@link NotAnAppError} if none.
 * `nodeShape` is the node:http-style gateway's `nodeAppShape`, passed in so
 * that this file does not load that gateway (and node:http) for other apps.
 */
export function interfaceOf(
  app: unknown,
  requested: Interface,
  nodeShape: (app: unknown) => NodeAppShape | null,
): Exclude<Interface, "auto"> {
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
      if (typeof app === "function" || nodeShape(app) !== null) return "node";
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
      if (nodeShape(app) !== null) return "node";
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

/** The lifespan settings of `settings`, defaults filled in. */
export function lifespanOptions(settings: GatewaySettings): LifespanOptions {
  return {
    lifespan: settings.lifespan ?? DEFAULT_LIFESPAN.lifespan,
    startupTimeout: settings.startupTimeout ?? DEFAULT_LIFESPAN.startupTimeout,
    shutdownTimeout: settings.shutdownTimeout ?? DEFAULT_LIFESPAN.shutdownTimeout,
  };
}

/**
 * Whether telling `app`'s interface may need the node:http-style gateway's
 * shape check (an Express app is a function with `handle()` and `set()`, a
 * Fastify app has `ready()`; a Koa app or an `http.Server` is an object):
 * else it is not looked at.
 */
export function needsNodeShape(app: unknown, requested: Interface): boolean {
  if (requested === "node") return true;
  if (requested !== "auto") return false;
  if (app !== null && typeof app === "object") return typeof (app as FetchApp).fetch !== "function";
  if (typeof app !== "function") return false;
  const f = app as { handle?: unknown; ready?: unknown };
  return typeof f.handle === "function" || typeof f.ready === "function";
}
