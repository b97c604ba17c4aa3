/**
 * Serving a node-style app through tsgi's runtime: its handler and its
 * lifespan, by shape (detect.ts). An Express app or a `(req, res)` function
 * is the `'request'` listener; a Koa app gives `app.callback()`; an
 * `http.Server` made but not listened, and a Fastify app's `app.server`,
 * get their events emitted, with the lifespan of an attached server
 * (lifespan.ts). See docs/interfaces/node.md.
 */

import type { Server as NetServer } from "node:net";
import { Server as TlsServer } from "node:tls";
import { TsgiError } from "../../http1/tsgi-error.ts";
import type { Logger } from "../../server/log.ts";
import type { Handler } from "../../server/server.ts";
import { NotAnAppError } from "../errors.ts";
import type { Lifespan, LifespanOptions } from "../lifespan.ts";
import { type FastifyLike, nodeAppShape } from "./detect.ts";
import { emitterGateway, type NodeEmitter } from "./dispatch.ts";
import { type NodeListener, nodeGateway } from "./gateway.ts";
import { attachedServerLifespan } from "./lifespan.ts";

/** A server that is already listening cannot be served by tsgi as well. */
export class ServerListeningError extends TsgiError {
  override readonly name = "ServerListeningError";
  readonly code = "TSGI_ERR_NOT_AN_APP";
}

/** A node-style app's handler and lifespan (null: nothing to run around serving it). */
export interface NodeApplication {
  handler: Handler;
  lifespan: Lifespan | null;
}

/**
 * The server tsgi emits events on, checked: tsgi owns the listening socket
 * and the TLS, so a server that listens already, or one that would do TLS
 * (or HTTP/2) itself, is refused with what to do instead.
 */
function servable(server: NetServer, what: string): NodeEmitter {
  if (server.listening) {
    throw new ServerListeningError(
      `${what} is already listening: create it without calling listen() and let tsgi serve it`,
    );
  }
  if (server instanceof TlsServer) {
    throw new NotAnAppError(
      `${what} does its own TLS: create it as plain HTTP (http.createServer, or Fastify without \`https\`) ` +
        "and give tsgi the certificate (--ssl-keyfile, --ssl-certfile)",
    );
  }
  return server as NetServer & NodeEmitter;
}

/** Fastify's `app.server`, if tsgi can deliver requests to it. */
function fastifyServer(app: FastifyLike): NodeEmitter {
  const config = app.initialConfig ?? {};
  if (config.http2 !== undefined && config.http2 !== false) {
    throw new NotAnAppError(
      "a Fastify app created with `http2` cannot be served: tsgi speaks HTTP/1.1 (create it without `http2`)",
    );
  }
  if (nodeAppShape(app.server) !== "server") {
    throw new NotAnAppError(
      "the Fastify app's server is not an http.Server: a `serverFactory` must return " +
        "http.createServer(handler) (or tsgi/node's createServer(handler)), not listening",
    );
  }
  return servable(app.server as NetServer, "the Fastify app's server");
}

/**
 * The handler and lifespan for node-style `app`. The lifespan of an
 * attached server is not optional (`--lifespan off` does not remove it):
 * Fastify has no routes before `ready()`, and socket.io closes its clients
 * on the server's `'close'`.
 * @throws ServerListeningError for a server that is already listening.
 * @throws NotAnAppError for a server tsgi cannot serve (TLS, HTTP/2).
 */
export function nodeApplication(app: unknown, options: LifespanOptions, logger: Logger): NodeApplication {
  switch (nodeAppShape(app)) {
    case "fastify": {
      const fastify = app as FastifyLike;
      const server = fastifyServer(fastify);
      return {
        handler: emitterGateway(server),
        lifespan: attachedServerLifespan(server, fastify, options, logger),
      };
    }
    case "koa":
      return { handler: nodeGateway((app as { callback(): NodeListener }).callback()), lifespan: null };
    case "server": {
      const server = servable(app as NetServer, "the http.Server");
      return {
        handler: emitterGateway(server),
        lifespan: attachedServerLifespan(server, null, options, logger),
      };
    }
    default:
      return { handler: nodeGateway(app as NodeListener), lifespan: null };
  }
}
