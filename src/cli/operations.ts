/**
 * What the CLI sets up around a server, in a single process and in each
 * `--workers` worker alike: the logger with its access log destination and
 * format, the health endpoint, and the request counters for `--metrics`.
 */

import { AccessLogFile } from "../server/access-log.ts";
import { withHealthCheck } from "../server/health.ts";
import { Logger } from "../server/log.ts";
import type { Handler, Server } from "../server/server.ts";
import type { CliConfig } from "./args.ts";

/** Default interface of the `--metrics` listener: loopback, as metrics can reveal traffic. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";

/** A logger and, with `--access-log FILE`, the file it writes to. */
export interface CliLogger {
  logger: Logger;
  /** The access log file, or null for stdout. */
  accessFile: AccessLogFile | null;
  /** Flushes queued lines and closes the file (a no-op for stdout). */
  close(): Promise<void>;
}

/**
 * Builds the logger the command line asks for. Opens `--access-log FILE` now,
 * so a path that cannot be written fails at startup; throws the system error.
 */
export function createLogger(config: CliConfig): CliLogger {
  const ops = config.operations;
  const path = ops.accessLog ?? "-";
  // With the access log off, a file named on the command line is not even created.
  const accessFile = path === "-" || config.options.accessLog === false ? null : new AccessLogFile(path);
  const logger = new Logger(
    config.options.logLevel ?? "info",
    process.stderr,
    accessFile ?? process.stdout,
    ops.accessLogFormat ?? "short",
  );
  return {
    logger,
    accessFile,
    close: async () => {
      logger.flush();
      await accessFile?.close();
    },
  };
}

/** Reopens the access log file (logrotate's postrotate sends SIGUSR1), logging a failure. */
export function reopenAccessLog(file: AccessLogFile, logger: Logger): void {
  try {
    file.reopen();
    logger.info(`reopened the access log ${file.path}`);
  } catch (err) {
    logger.error(`could not reopen the access log ${file.path}, still writing to the old file`, err);
  }
}

/**
 * The app's handler behind `--health-path` if given: healthy while `ready()`
 * and the server is not shutting down.
 */
export function withHealth(config: CliConfig, handler: Handler, ready: () => boolean): Handler {
  const path = config.operations.healthPath;
  return path === undefined ? handler : withHealthCheck(handler, path, ready);
}

/** True when the server must count requests for `--metrics` (here or in a supervisor). */
export function wantsMetrics(config: CliConfig): boolean {
  return config.operations.metricsPort !== undefined;
}

/** Error message for a metrics port that cannot be bound. */
export function metricsListenError(err: unknown, config: CliConfig): Error {
  const host = config.operations.metricsHost ?? DEFAULT_METRICS_HOST;
  const code = (err as NodeJS.ErrnoException).code ?? "";
  return new Error(
    `cannot serve metrics on ${host}:${config.operations.metricsPort}${code === "" ? "" : ` (${code})`}`,
    { cause: err },
  );
}

/** Logs where metrics are served; tests and operators read the real port from it. */
export function announceMetrics(server: Server, logger: Logger): void {
  logger.info(`Metrics on ${server.url}/metrics`);
}
