/**
 * One process, no supervisor: adopts systemd's sockets, starts the server,
 * announces it, and serves until SIGINT or SIGTERM, then shuts down
 * gracefully (after `--shutdown-delay`). SIGUSR1 reopens the access log file.
 */

import type { RuntimeConfig } from "./config.ts";
import { type LogOutput, reopenAccessLog } from "./logging.ts";
import { adoptSystemdSockets, readinessLines } from "./sockets.ts";
import { startServer } from "./start.ts";

/**
 * Serves the app of `config` in this process until a signal stops it;
 * resolves with the exit status (1 if the app's shutdown failed). Rejects if
 * the server cannot start. `output` is closed once the server has stopped.
 *
 * @example
 * process.exit(await runSingleProcess(config, createLogger(config)));
 */
export async function runSingleProcess(config: RuntimeConfig, output: LogOutput): Promise<number> {
  const logger = output.logger;
  // Before the app is loaded, so that its own children do not inherit the sockets.
  adoptSystemdSockets(config);
  const running = await startServer(config, logger, { serveMetrics: true });
  const { server, app, metrics } = running;
  const file = output.accessFile;
  if (file !== null) process.on("SIGUSR1", () => reopenAccessLog(file, logger));
  const status = await new Promise<number>((resolve) => {
    let signalled = false;
    const delay = config.operations.shutdownDelay ?? 0;
    const stop = (signal: NodeJS.Signals) => {
      if (signalled) {
        logger.warning(`${signal} again: exiting without waiting`);
        process.exit(1);
      }
      signalled = true;
      running.unready();
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
      logger.info(`${signal}: shutting down (waiting up to ${server.options.gracefulTimeout / 1000}s)`);
      void metrics?.close(0);
      void server
        .close(undefined, 0, () => app.close())
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
    process.stderr.write(readinessLines(server.urls));
  });
  logger.info("Stopped");
  await output.close();
  return status;
}
