/**
 * Routes node:http's `createServer` (and node:https's) to `tsgi/node`'s, for
 * programs that make their own servers: what `node --import
 * tsgi/node/register app.js` does before the program runs.
 */

import http from "node:http";
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";
import { createSecureServer, createServer } from "./server.ts";

/**
 * Replaces `http.createServer` with tsgi/node's `createServer` and
 * `https.createServer` with its `createSecureServer`, also for ES modules'
 * named imports (`import { createServer } from "node:http"`, through
 * `syncBuiltinESMExports`). Servers made before the call, and servers made
 * with `new http.Server()`, stay node's. Returns a function that puts node's
 * back.
 *
 * @example
 * import { useTsgiServers } from "tsgi/node";
 * const restore = useTsgiServers();
 * const server = http.createServer(app).listen(8000); // served by tsgi
 * restore();
 */
export function useTsgiServers(): () => void {
  const nodeHttp = http.createServer;
  const nodeHttps = https.createServer;
  http.createServer = createServer as unknown as typeof http.createServer;
  https.createServer = createSecureServer as unknown as typeof https.createServer;
  syncBuiltinESMExports();
  return () => {
    http.createServer = nodeHttp;
    https.createServer = nodeHttps;
    syncBuiltinESMExports();
  };
}
