/**
 * Starting a server: the one start-up sequence of a single process and of
 * each `--workers` worker. It loads the app (or starts its threads) and
 * selects its gateway, puts the health path in front, counts requests for
 * `--metrics`, listens, and where this process serves them starts the
 * metrics listener. What fails once the app has started runs the app's
 * shutdown before it is reported, as uvicorn does.
 */

import { TsgiError } from "../http1/tsgi-error.ts";
import { BindError } from "../server/listen.ts";
import type { Logger } from "../server/log.ts";
import type { MetricsSnapshot } from "../server/metrics.ts";
import { type Handler, Server, wrapHandler } from "../server/server.ts";
import type { RuntimeConfig } from "./config.ts";
import { type AppHandler, buildHandler } from "./handler.ts";
import { withHealth } from "./health.ts";
import { describeListenError } from "./listen-error.ts";
import { listenForMetrics, wantsMetrics } from "./metrics.ts";

/** How this process differs from the others that start a server. */
export interface StartOptions {
  /** `wsgi.multiprocess`: several processes serve the app (`--workers` above 1). */
  multiprocess?: boolean;
  /** Called after each request is handed to the app (a worker counts toward `--max-requests`). */
  onRequest?: (() => void) | undefined;
  /** Start the `--metrics` listener here (a worker does not: its supervisor serves the sum). */
  serveMetrics?: boolean;
}

/** A server that is listening, with the app it serves. */
export interface RunningServer {
  readonly server: Server;
  /** The app's handler and its shutdown, to run once the server has drained. */
  readonly app: AppHandler;
  /** The `--metrics` listener, when this process serves one. */
  readonly metrics: Server | null;
  /** From now on the health path answers 503 while the server still serves (`--shutdown-delay`). */
  unready(): void;
  /** The server's counters with its open connections and WebSockets (only with `--metrics`). */
  snapshot(): MetricsSnapshot;
}

/**
 * Runs the app's shutdown after a startup that ran but could not be served;
 * its failure is logged, since the error that stops the server is the one to report.
 */
async function closeApp(app: AppHandler, logger: Logger): Promise<void> {
  try {
    await app.close();
  } catch (err) {
    logger.error("application shutdown failed", err);
  }
}

/**
 * Loads the app named by `config` and serves it on the configured addresses.
 * Resolves once the server (and the metrics listener, if any) listens; an app
 * with a lifespan has completed its startup by then (and a node-style server
 * has heard `'listening'`). Rejects with one line for the user (the system
 * error as `cause`) if the app cannot load or an address cannot be bound.
 *
 * @example
 * const { server, app } = await startServer(config, logger, { serveMetrics: true });
 * // ... later
 * await server.close();
 * await app.close();
 */
export async function startServer(
  config: RuntimeConfig,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningServer> {
  const app = await buildHandler(config, logger, options.multiprocess ?? false);
  const onRequest = options.onRequest;
  const handler: Handler =
    onRequest === undefined
      ? app.handler
      : wrapHandler(app.handler, (ex) => {
          app.handler(ex);
          onRequest();
        });
  let ready = true;
  const server: Server = new Server(
    withHealth(config, handler, () => ready && !server.shuttingDown),
    config.options,
    logger,
  );
  if (wantsMetrics(config)) server.stats = new (await import("../server/metrics.ts")).RequestStats();
  const snapshot = () => server.stats!.snapshot(server.connectionCount, server.webSocketCount);
  try {
    await server.listen();
  } catch (err) {
    // Started but cannot serve: the app's shutdown still runs, so what its
    // startup opened (pools, files) is closed.
    await closeApp(app, logger);
    const { host, port } = server.options;
    // A BindError or TlsConfigError already says what failed; a system error gets a BindError saying it.
    if (err instanceof TsgiError) throw err;
    const errno = err as NodeJS.ErrnoException;
    throw new BindError(describeListenError(errno, host, port), errno.code, { cause: err });
  }
  try {
    app.listening(server);
  } catch (err) {
    // A 'listening' listener (a taken-over listen()'s callback) threw: on node:http that is an uncaught exception.
    await server.close(0);
    await closeApp(app, logger);
    throw err;
  }
  let metrics: Server | null = null;
  if (options.serveMetrics === true && server.stats !== null) {
    try {
      metrics = await listenForMetrics(config, async () => snapshot(), logger);
    } catch (err) {
      await server.close(0);
      await closeApp(app, logger);
      throw err;
    }
  }
  return {
    server,
    app,
    metrics,
    unready: () => {
      ready = false;
    },
    snapshot,
  };
}
