#!/usr/bin/env node
/**
 * `tsgi [OPTIONS] MODULE[:ATTR]`: load an app, serve it, shut down
 * gracefully on SIGINT/SIGTERM (after `--shutdown-delay`). Failures print one
 * line and exit non-zero; stack traces only with `--log-level debug`.
 */

import { readFileSync } from "node:fs";
import type { Logger } from "../server/log.ts";
import { RequestStats } from "../server/metrics.ts";
import { serveMetrics } from "../server/metrics-server.ts";
import type { Server as ServerType } from "../server/server.ts";
import { Server } from "../server/server.ts";
import { supervise } from "../workers/supervisor.ts";
import { type AppHandler, buildHandler } from "./app.ts";
import { helpText, parseCommandLine, UsageError } from "./args.ts";
import { describeListenError } from "./listen-error.ts";
import {
  announceMetrics,
  createLogger,
  DEFAULT_METRICS_HOST,
  metricsListenError,
  reopenAccessLog,
  wantsMetrics,
  withHealth,
} from "./operations.ts";
import { watchForReload } from "./reload.ts";
import { readinessLines } from "./sockets.ts";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
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

async function main(argv: string[]): Promise<number> {
  // Until the options are parsed, look for the debug level by hand so even a
  // bad command line can show its stack trace.
  let debug =
    process.env.TSGI_LOG_LEVEL === "debug" ||
    argv.some((a, i) => a === "--log-level=debug" || (a === "--log-level" && argv[i + 1] === "debug"));
  try {
    const config = parseCommandLine(argv);
    if (config === "help") {
      process.stdout.write(helpText());
      return 0;
    }
    if (config === "version") {
      process.stdout.write(`tsgi ${version()}\n`);
      return 0;
    }
    if (config.operations.reload) {
      // The reloader supervises one worker (or --workers N) and never loads
      // the app itself, so a broken edit cannot take it down.
      const { logger } = createLogger({ ...config, options: { ...config.options, accessLog: false } });
      debug = logger.enabled("debug");
      const watcher = watchForReload(config, logger, () => process.kill(process.pid, "SIGHUP"));
      try {
        return await supervise(config, logger);
      } finally {
        watcher.close();
      }
    }
    // With --workers this process only supervises: it never loads the app
    // (and never writes access lines: the workers open the log themselves).
    if (config.concurrency.workers !== undefined) {
      const { logger } = createLogger({ ...config, options: { ...config.options, accessLog: false } });
      debug = logger.enabled("debug");
      return await supervise(config, logger);
    }
    const output = createLogger(config);
    const logger = output.logger;
    debug = logger.enabled("debug");
    const app = await buildHandler(config, logger);
    let ready = true;
    let server: ServerType | null = null;
    const handler = withHealth(config, app.handler, () => ready && server?.shuttingDown === false);
    server = new Server(handler, config.options, logger);
    const { host, port } = server.options;
    if (wantsMetrics(config)) server.stats = new RequestStats();
    try {
      await server.listen();
    } catch (err) {
      // Started but cannot serve: the app's shutdown still runs, so what its
      // startup opened (pools, files) is closed, as uvicorn does.
      await closeApp(app, logger);
      throw new Error(describeListenError(err as NodeJS.ErrnoException, host, port), { cause: err });
    }
    let metrics: ServerType | null = null;
    if (server.stats !== null) {
      const stats = server.stats;
      const live = server;
      try {
        metrics = await serveMetrics(
          config.operations.metricsHost ?? DEFAULT_METRICS_HOST,
          config.operations.metricsPort!,
          async () => stats.snapshot(live.connectionCount, live.webSocketCount),
          logger,
        );
      } catch (err) {
        await server.close(0);
        await closeApp(app, logger);
        throw metricsListenError(err, config);
      }
      announceMetrics(metrics, logger);
    }
    const file = output.accessFile;
    if (file !== null) process.on("SIGUSR1", () => reopenAccessLog(file, logger));
    const running = server;
    const status = await new Promise<number>((resolve) => {
      let signalled = false;
      const delay = config.operations.shutdownDelay ?? 0;
      const stop = (signal: NodeJS.Signals) => {
        if (signalled) {
          logger.warning(`${signal} again: exiting without waiting`);
          process.exit(1);
        }
        signalled = true;
        ready = false;
        if (delay > 0) {
          // Kubernetes removes a pod from its endpoints while it is already
          // being sent SIGTERM: keep serving until the balancers have seen the 503.
          logger.info(`${signal}: failing health checks, still serving for ${delay / 1000}s`);
          setTimeout(() => shutDown(signal), delay);
        } else {
          shutDown(signal);
        }
      };
      const shutDown = (signal: NodeJS.Signals) => {
        logger.info(`${signal}: shutting down (waiting up to ${running.options.gracefulTimeout / 1000}s)`);
        void metrics?.close(0);
        void running
          .close()
          .then(() => app.close())
          .then(
            () => resolve(0),
            (err: unknown) => {
              // The server is closed either way; a failed shutdown is the app's (lifespan) failure.
              process.stderr.write(`tsgi: error: ${err instanceof Error ? err.message : String(err)}\n`);
              resolve(1);
            },
          );
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      // The readiness line: scripts and tests wait for it, so it is printed at
      // every log level, and only once the signal handlers are in place: a
      // caller woken by it may send SIGTERM before we run another statement.
      process.stderr.write(readinessLines(running.urls));
    });
    logger.info("Stopped");
    await output.close();
    return status;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`tsgi: error: ${message}\n`);
    if (debug) {
      // Also the causes: for an import error the trace that matters is the app's, in `cause`.
      let e: unknown = err;
      for (let depth = 0; e instanceof Error && depth < 10; depth++, e = e.cause) {
        process.stderr.write(`${depth === 0 ? "" : "Caused by: "}${e.stack}\n`);
      }
    }
    return err instanceof UsageError ? 2 : 1;
  }
}

// Exit rather than wait for the event loop to empty: an app may keep handles
// open (a pool that a failed or timed-out lifespan never closed, a timer), and
// a server that has stopped must not hang a deploy. stdout and stderr writes
// to pipes and files are synchronous, so nothing written is lost.
process.exit(await main(process.argv.slice(2)));
