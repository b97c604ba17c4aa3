/**
 * Logging: leveled messages to stderr and the access log to stdout (or a
 * file, see access-log.ts). Access lines are batched and written once per
 * event-loop turn, because writes to pipes and files are synchronous in Node
 * and one write per request would stall the loop under load.
 */

import type { RequestHead } from "../http1/events.ts";
import { type AccessFormatter, type AccessLogFormat, accessFormatter } from "./access-log.ts";
import type { ConnectionInfo } from "./connection-info.ts";

/** Severity levels, most severe first. */
export type LogLevel = "critical" | "error" | "warning" | "info" | "debug";

const LEVELS: Record<LogLevel, number> = { critical: 50, error: 40, warning: 30, info: 20, debug: 10 };

/** True if `value` names a level. */
export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(LEVELS, value);
}

/** Where access lines are written: a stream, or an `AccessLogFile`. */
export interface AccessSink {
  write(text: string): unknown;
}

/** Where a server's messages go. */
export class Logger {
  private readonly threshold: number;
  private pending: string[] = [];
  private scheduled = false;
  private readonly format: AccessFormatter;

  constructor(
    readonly level: LogLevel = "info",
    /** Where leveled messages (and the `--trace`) go. */
    readonly errorStream: NodeJS.WritableStream = process.stderr,
    private readonly accessStream: AccessSink = process.stdout,
    /** The access log's line format (`--access-log-format`). */
    readonly accessFormat: AccessLogFormat = "short",
  ) {
    this.threshold = LEVELS[level];
    this.format = accessFormatter(accessFormat);
  }

  /** True when messages of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.threshold;
  }

  log(level: LogLevel, message: string): void {
    if (LEVELS[level] >= this.threshold) this.errorStream.write(`${level.toUpperCase()}: ${message}\n`);
  }

  error(message: string, err?: unknown): void {
    if (!this.enabled("error")) return;
    // Stack traces only at debug level: they are for developers, not for every log reader.
    const detail =
      err instanceof Error ? (this.enabled("debug") ? `\n${err.stack}` : `: ${err.message}`) : "";
    this.log("error", `${message}${detail}`);
  }

  warning(message: string): void {
    this.log("warning", message);
  }

  info(message: string): void {
    this.log("info", message);
  }

  debug(message: string): void {
    this.log("debug", message);
  }

  /**
   * Queues the access line of one exchange in the chosen format. `request`
   * is null for a head that could not be parsed; `durationMs` -1 for none;
   * `bytes` the body bytes; `complete` false for a response cut short.
   */
  request(
    info: ConnectionInfo,
    request: RequestHead | null,
    status: number,
    bytes: number,
    durationMs: number,
    complete = true,
  ): void {
    this.access(this.format(info, request, status, bytes, durationMs, complete));
  }

  /** Queues one access-log line; lines go out together at the end of this loop turn. */
  access(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes queued access lines now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = `${this.pending.join("\n")}\n`;
    this.pending = [];
    this.accessStream.write(text);
  }
}
