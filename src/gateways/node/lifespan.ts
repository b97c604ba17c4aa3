/**
 * The lifespan of a node-style server tsgi serves in place of its own
 * `listen()`: an `http.Server` made but not listened (socket.io and ws's
 * `WebSocketServer({ server })` attach to it) or a Fastify app's
 * `app.server`. Startup awaits Fastify's `ready()`; once tsgi listens, the
 * server hears `'listening'` and its `address()` answers tsgi's address;
 * after tsgi's drain, Fastify's `close()` runs and the server is closed, so
 * it hears `'close'` (engine.io closes its clients then). Each step is
 * bounded by the lifespan timeouts.
 */

import type { AddressInfo, Server as NetServer } from "node:net";
import type { Logger } from "../../server/log.ts";
import type { Server } from "../../server/server.ts";
import { type Lifespan, LifespanError, type LifespanOptions, withTimeout } from "../lifespan.ts";
import type { FastifyLike } from "./detect.ts";
import type { NodeEmitter } from "./dispatch.ts";

/** Where tsgi listens, as `net.Server#address()` gives it: the first TCP address, else the unix path. */
function boundAddress(server: Server): AddressInfo | string | null {
  const urls = server.urls;
  if (urls.some((url) => !url.startsWith("unix:"))) return server.address;
  const first = urls[0];
  return first === undefined ? null : first.slice("unix:".length);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `work`, bounded by `ms`; a failure becomes a {@link LifespanError} saying `what` failed. */
async function step(work: () => PromiseLike<unknown>, ms: number, what: string): Promise<void> {
  try {
    await withTimeout(Promise.resolve().then(work), ms, what);
  } catch (err) {
    if (err instanceof LifespanError) throw err;
    throw new LifespanError(`${what} failed: ${message(err)}`, "TSGI_ERR_LIFESPAN_FAILED", { cause: err });
  }
}

/**
 * While tsgi serves it, the server says what tsgi listens on: `address()`
 * and `listening`, as own properties (ws's `wss.address()`, Fastify's
 * `addresses()` and app code read them); the prototype's come back at `'close'`.
 */
function lendAddress(server: NetServer, address: AddressInfo | string | null): () => void {
  const saved = (["address", "listening"] as const).map(
    (key) => [key, Object.getOwnPropertyDescriptor(server, key)] as const,
  );
  Object.defineProperty(server, "address", { configurable: true, writable: true, value: () => address });
  Object.defineProperty(server, "listening", { configurable: true, get: () => true });
  return () => {
    for (const [key, descriptor] of saved) {
      if (descriptor === undefined) delete (server as unknown as Record<string, unknown>)[key];
      else Object.defineProperty(server, key, descriptor);
    }
  };
}

/**
 * The lifespan of `emitter` (a `net.Server`: node's `http.Server` or a
 * `tsgi/node` server) served by tsgi; `fastify` is the app that made it, if any.
 */
export function attachedServerLifespan(
  emitter: NodeEmitter,
  fastify: FastifyLike | null,
  options: LifespanOptions,
  logger: Logger,
): Lifespan {
  const server = emitter as NodeEmitter & NetServer;
  /** Listening (tsgi listens) and not yet closed: only then is there a 'close' to emit. */
  let serving = false;
  return {
    async startup() {
      if (fastify === null) return;
      await step(() => fastify.ready(), options.startupTimeout, "Fastify's ready()");
      logger.debug("Fastify's ready() complete");
    },

    listening(tsgi: Server) {
      const giveBack = lendAddress(server, boundAddress(tsgi));
      serving = true;
      server.once("close", () => {
        serving = false;
        giveBack();
      });
      try {
        // As net.Server does once bound: node's http.Server starts its connection bookkeeping here, engine.io its ws.
        server.emit("listening");
      } catch (err) {
        throw new LifespanError(`a 'listening' listener threw: ${message(err)}`, "TSGI_ERR_LIFESPAN_FAILED", {
          cause: err,
        });
      }
    },

    async shutdown() {
      try {
        if (fastify !== null) {
          // preClose and onClose hooks; Fastify closes its server too (not with a serverFactory).
          await step(() => fastify.close(), options.shutdownTimeout, "Fastify's close()");
        }
      } finally {
        if (serving) {
          // node's own close(): it clears http.Server's connection check timer,
          // and, as the server never listened, emits 'close' on the next tick.
          const heard = new Promise<void>((resolve) => server.once("close", () => resolve()));
          // The class's close(), not an own close() a listen() takeover put on
          // the instance (which only waits for this 'close').
          (Object.getPrototypeOf(server) as NetServer).close.call(server);
          await step(() => heard, options.shutdownTimeout, "closing the app's server");
        }
      }
      logger.debug("the app's server closed");
    },
  };
}
