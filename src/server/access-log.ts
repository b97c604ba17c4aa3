/**
 * Access log lines in the formats operators already parse (`--access-log-format`),
 * and the file they go to (`--access-log FILE`). Every format carries the
 * response time and the body bytes, and marks responses cut short. Formatting happens once per request
 * only when the access log is on; the lines are batched by the `Logger`.
 */

import { closeSync, createWriteStream, openSync, type WriteStream } from "node:fs";
import type { RequestHead } from "../http1/events.ts";
import type { ConnectionInfo } from "./connection-info.ts";

/**
 * `short`: tsgi's own one-liner (`ADDR:PORT - "GET / HTTP/1.1" 200 5 0.3ms`),
 * close to uvicorn's. `common` and `combined`: Apache's and nginx's formats of
 * those names, plus the response time in seconds as the last field (nginx's
 * `$request_time`). `json`: one object per line.
 */
export type AccessLogFormat = "short" | "common" | "combined" | "json";

/** Every format, in the order `--help` lists them. */
export const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ["short", "common", "combined", "json"];

/** True if `value` names a format. */
export function isAccessLogFormat(value: string): value is AccessLogFormat {
  return (ACCESS_LOG_FORMATS as readonly string[]).includes(value);
}

/**
 * Builds one line. `request` is null when the head could not be parsed (a
 * 400 to a scanner); `durationMs` is -1 when there is no meaningful duration.
 * `bytes` counts the body only, as nginx's `$body_bytes_sent`. `complete` is
 * false for a response cut short (the client left, the app failed after the
 * head, a send timeout): `status` is then the one sent, or 499 (nginx's
 * "client closed request") when no head went out, and `bytes` what was sent.
 */
export type AccessFormatter = (
  info: ConnectionInfo,
  request: RequestHead | null,
  status: number,
  bytes: number,
  durationMs: number,
  complete: boolean,
) => string;

/** The status logged for an exchange whose client left before any response head went out (nginx's). */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * The last field of a text line for a response cut short. Only those lines
 * carry it, so the fields before it keep their places for existing parsers.
 */
const INCOMPLETE = " incomplete";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

// Apache's `%t` changes once a second: formatted then, not per request.
let clfSecond = -1;
let clfTime = "";

/** `[10/Oct/2000:13:55:36 +0000]`, always UTC so lines from several hosts sort together. */
function clfTimestamp(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== clfSecond) {
    const d = new Date(now);
    clfSecond = second;
    clfTime = `[${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000]`;
  }
  return clfTime;
}

const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f-\xff]/;

/**
 * Escapes a value for a double-quoted field the way nginx does (`\"`, `\\`,
 * `\xHH` for control and non-ASCII bytes), so a client cannot end the field
 * early or forge a second line with a header value.
 */
export function escapeField(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += `\\${value[i]}`;
    else if (c < 0x20 || c >= 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += value[i];
  }
  return out;
}

/** The first value of header `name` (lower case), or null. */
function header(request: RequestHead | null, name: string): string | null {
  if (request === null) return null;
  const h = request.headers;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i]!.length === name.length && h[i]!.toLowerCase() === name) return h[i + 1]!;
  }
  return null;
}

function requestLine(request: RequestHead | null): string {
  return request === null
    ? "-"
    : escapeField(`${request.method} ${request.target} HTTP/1.${request.version - 10}`);
}

/** Seconds with millisecond precision, as nginx's `$request_time`; "-" when unknown. */
function seconds(durationMs: number): string {
  return durationMs < 0 ? "-" : (durationMs / 1000).toFixed(3);
}

/**
 * The client's address. A unix socket peer has none (its address is ""):
 * shown as `unix:`, as nginx's `$remote_addr` does, rather than an empty field.
 */
function client(info: ConnectionInfo): string {
  return info.remoteAddress === "" ? UNIX_PEER : info.remoteAddress;
}

const UNIX_PEER = "unix:";

const short: AccessFormatter = (info, request, status, bytes, durationMs, complete) =>
  `${info.remoteAddress === "" ? UNIX_PEER : `${info.remoteAddress}:${info.remotePort}`} - "${requestLine(request)}" ${status} ${bytes} ${durationMs < 0 ? "-" : `${durationMs.toFixed(1)}ms`}${complete ? "" : INCOMPLETE}`;

// CLF's `%b` is "-" for an empty body; we write 0 so every field parses as a number.
const common: AccessFormatter = (info, request, status, bytes, durationMs, complete) =>
  `${client(info)} - - ${clfTimestamp(Date.now())} "${requestLine(request)}" ${status} ${bytes} ${seconds(durationMs)}${complete ? "" : INCOMPLETE}`;

const combined: AccessFormatter = (info, request, status, bytes, durationMs, complete) => {
  const referer = header(request, "referer");
  const agent = header(request, "user-agent");
  return `${client(info)} - - ${clfTimestamp(Date.now())} "${requestLine(request)}" ${status} ${bytes} "${referer === null ? "-" : escapeField(referer)}" "${agent === null ? "-" : escapeField(agent)}" ${seconds(durationMs)}${complete ? "" : INCOMPLETE}`;
};

const json: AccessFormatter = (info, request, status, bytes, durationMs, complete) =>
  JSON.stringify({
    time: new Date().toISOString(),
    remote_addr: client(info),
    remote_port: info.remoteAddress === "" ? null : info.remotePort,
    method: request?.method ?? null,
    target: request?.target ?? null,
    protocol: request === null ? null : `HTTP/1.${request.version - 10}`,
    status,
    bytes,
    duration: durationMs < 0 ? null : Math.round(durationMs * 1000) / 1e6,
    complete,
    referer: header(request, "referer"),
    user_agent: header(request, "user-agent"),
  });

const FORMATTERS: Record<AccessLogFormat, AccessFormatter> = { short, common, combined, json };

/**
 * The formatter for `format`.
 *
 * @example
 * const line = accessFormatter("common")(exchange.info, exchange.request, 200, 5, 1.2, true);
 * // 127.0.0.1 - - [10/Oct/2025:13:55:36 +0000] "GET / HTTP/1.1" 200 5 0.001
 */
export function accessFormatter(format: AccessLogFormat): AccessFormatter {
  return FORMATTERS[format];
}

/**
 * Above this many bytes waiting for the disk, lines are dropped (and counted)
 * rather than buffered: a stuck disk must not grow the server's memory.
 */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * An access log file opened for appending and written through `fs.WriteStream`
 * (libuv's thread pool), so a slow disk never blocks the event loop. Several
 * `--workers` append to one file safely: each batch is one `write()` on an
 * `O_APPEND` descriptor. {@link reopen} serves logrotate (SIGUSR1).
 */
export class AccessLogFile {
  private stream: WriteStream;
  /** Lines dropped because the disk fell behind by more than 64 MiB. */
  dropped = 0;

  /** Opens `path` now, so a bad path fails at startup; throws the system error (ENOENT, EACCES). */
  constructor(readonly path: string) {
    this.stream = this.open();
  }

  private open(): WriteStream {
    const fd = openSync(this.path, "a");
    const stream = createWriteStream("", { fd, autoClose: true });
    stream.on("error", (err) => process.stderr.write(`ERROR: access log ${this.path}: ${err.message}\n`));
    return stream;
  }

  /** Appends `text`; never blocks. */
  write(text: string): boolean {
    if (this.stream.writableLength > MAX_PENDING_BYTES) {
      this.dropped++;
      return false;
    }
    return this.stream.write(text);
  }

  /**
   * Opens the path again and closes the old descriptor once its queued lines
   * are written: after logrotate renamed the file, new lines go to a new file.
   * Throws (keeping the old file) if the path cannot be opened.
   */
  reopen(): void {
    const next = this.open();
    const old = this.stream;
    this.stream = next;
    old.end();
  }

  /** Flushes and closes; resolves once the file is closed. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream.closed) resolve();
      else this.stream.end(() => resolve());
    });
  }
}

/** Checks that `path` can be opened for appending, without keeping it open. */
export function checkWritable(path: string): void {
  closeSync(openSync(path, "a"));
}
