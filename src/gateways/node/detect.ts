/**
 * Which apps the node:http-style gateway serves, by shape: `--interface
 * auto` recognises the four shapes below before its three-parameter ASGI
 * rule (an Express app takes `(req, res, next)`, three parameters); a plain
 * `(req, res)` function is served only with `--interface node`. How each
 * shape is served is app.ts's business.
 */

import { Server as HttpServer } from "node:http";
import { Server as NetServer } from "node:net";

/** The node-style app shapes `--interface auto` recognises. */
export type NodeAppShape = "fastify" | "express" | "koa" | "server";

/** The members of a Fastify instance tsgi uses. */
export interface FastifyLike {
  /** Loads the plugins (avvio) and runs the `onReady` hooks; no route answers before it. */
  ready(): PromiseLike<unknown>;
  /** Runs the `preClose` and `onClose` hooks and closes `server`. */
  close(): PromiseLike<unknown>;
  /** The server Fastify made (or its `serverFactory` returned), with Fastify's `'request'` listener. */
  readonly server: NodeJS.EventEmitter;
  /** Fastify's options as given: `http2`, `https`. */
  readonly initialConfig?: { readonly http2?: unknown; readonly https?: unknown };
}

function isMethod(o: object, name: string): boolean {
  return typeof (o as Record<string, unknown>)[name] === "function";
}

/**
 * A Fastify instance: `ready()`, `close()`, `inject()` and `routing()`
 * (its request handler) are functions, and `server` is an event emitter.
 * Four members, because `ready` and `close` alone are common words; no
 * Express, Koa or Fetch app has `inject` and `routing` together. `server` is
 * checked for `on`/`emit` only, so a Fastify app made with `http2` is still
 * recognised, and refused with a reason rather than misdetected.
 */
function isFastify(app: object): boolean {
  if (
    !(isMethod(app, "ready") && isMethod(app, "close") && isMethod(app, "inject") && isMethod(app, "routing"))
  )
    return false;
  const server = (app as { server?: unknown }).server;
  return server !== null && typeof server === "object" && isMethod(server, "on") && isMethod(server, "emit");
}

/**
 * - `"fastify"`: a Fastify instance (see {@link isFastify}): tsgi awaits
 *   `ready()` before listening, emits its requests on `app.server`, and
 *   awaits `close()` after draining;
 * - `"express"`: a function with `handle()` and `set()` methods (an Express
 *   app; also Connect-like apps that have both);
 * - `"koa"`: an object with `callback()` and `use()` methods (a Koa app;
 *   served through `app.callback()`);
 * - `"server"`: an `http.Server` (or an `https.Server`, or a `tsgi/node`
 *   server) made but not listened: tsgi emits `'request'` (and `'upgrade'`,
 *   `'listening'`, `'close'`) on it.
 */
export function nodeAppShape(app: unknown): NodeAppShape | null {
  if (app === null || (typeof app !== "object" && typeof app !== "function")) return null;
  if (isFastify(app)) return "fastify";
  if (typeof app === "function") return isMethod(app, "handle") && isMethod(app, "set") ? "express" : null;
  if (app instanceof HttpServer || (app instanceof NetServer && "maxHeadersCount" in app)) return "server";
  return isMethod(app, "callback") && isMethod(app, "use") ? "koa" : null;
}
