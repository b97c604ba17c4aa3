/**
 * Turns the configured app into a server handler: the app loaded on this
 * thread, its gateway selected (with its lifespan), or with `--threads` a
 * pool of threads that each load it. Only the gateway the app needs is
 * imported, and the thread pool only with `--threads` (docs/performance.md).
 */

import { type Gateway, NotAnAppError } from "../gateways/detect.ts";
import { loadGateway } from "../gateways/load.ts";
import type { Logger } from "../server/log.ts";
import type { Handler, Server } from "../server/server.ts";
import type { RuntimeConfig } from "./config.ts";
import { UsageError } from "./errors.ts";
import { loadServedApp } from "./takeover.ts";

/** A ready handler and what must run after the server has drained. */
export interface AppHandler {
  handler: Handler;
  /**
   * Tells the app the server listens: a node-style `http.Server` hears
   * `'listening'` (a taken-over `listen()`'s callback runs); throws if the app failed there.
   */
  listening(server: Server): void;
  /** Stops the thread pool, or runs the app's lifespan shutdown. */
  close(): Promise<void>;
}

/**
 * Loads the app (or starts the thread pool) named by `config`; an app with a
 * lifespan has completed its startup when this resolves.
 */
export async function buildHandler(
  config: RuntimeConfig,
  logger: Logger,
  multiprocess = false,
): Promise<AppHandler> {
  const threads = config.concurrency.threads;
  if (threads !== undefined) {
    const [{ threadedGateway }, { ThreadPool }] = await Promise.all([
      import("../threads/gateway.ts"),
      import("../threads/pool.ts"),
    ]);
    const pool = new ThreadPool({
      target: config.target,
      interface: config.interface,
      size: threads,
      logger,
      multiprocess,
    });
    const iface = await pool.start();
    if (iface !== "wsgi") {
      await pool.close();
      throw new UsageError(
        `--threads runs WSGI-style (synchronous) apps; ${config.target} is a ${iface} app, ` +
          "which already serves concurrent requests on one event loop (drop --threads)",
      );
    }
    return { handler: threadedGateway(pool), listening: () => {}, close: () => pool.close() };
  }
  const { app, takeover } = await loadServedApp(config, logger);
  let gateway: Gateway;
  try {
    const iface = takeover === null ? config.interface : "node";
    gateway = await loadGateway(app, iface, logger, { ...config.gateway, multiprocess });
  } catch (err) {
    if (err instanceof NotAnAppError)
      throw new NotAnAppError(`${config.target} is not an app: ${err.message}`);
    throw err;
  }
  const { handler, lifespan } = gateway;
  await lifespan?.startup();
  // A server taken over from the app's listen() is served like an exported
  // one: its lifespan emits 'listening' (the listen callback runs) and 'close'.
  return {
    handler,
    listening: (server) => lifespan?.listening?.(server),
    close: async () => await lifespan?.shutdown(),
  };
}
