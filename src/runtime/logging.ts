/**
 * The logs of a run, in a single process and in each `--workers` worker
 * alike: the logger with its access log destination and format, and the
 * access log file reopened for logrotate.
 */

import { AccessLogFile } from "../server/access-log.ts";
import { Logger } from "../server/log.ts";
import type { RuntimeConfig } from "./config.ts";

/** A logger and, with `--access-log FILE`, the file it writes to. */
export interface LogOutput {
  logger: Logger;
  /** The access log file, or null for stdout. */
  accessFile: AccessLogFile | null;
  /** Flushes queued lines and closes the file (a no-op for stdout). */
  close(): Promise<void>;
}

/**
 * Builds the logger the configuration asks for. Opens `--access-log FILE` now,
 * so a path that cannot be written fails at startup; throws the system error.
 */
export function createLogger(config: RuntimeConfig): LogOutput {
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
