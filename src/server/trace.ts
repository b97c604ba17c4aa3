/**
 * `--trace`: a readable, timestamped account on stderr of what happens to
 * every connection and request, from accept to close, for people learning
 * how a server and an app talk. Each layer reports its own steps through one
 * `Tracer`; when tracing is off there is no Tracer, and every hook is a
 * single null check that builds no string.
 */

import type { RequestHead } from "../http1/events.ts";
import type { FrameHeader } from "../websocket/core.ts";

/** What `--trace` shows: "on" the lifecycle, "bytes" also an escaped excerpt of every read. */
export type TraceMode = "off" | "on" | "bytes";

/** How many bytes of each read `--trace=bytes` shows. */
const EXCERPT_BYTES = 160;

const COLORS: Record<string, string> = {
  accept: "32",
  close: "31",
  closed: "31",
  error: "31",
  backpressure: "33",
  drain: "33",
  app: "36",
  gateway: "36",
  response: "36",
  ws: "35",
};

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** Wall-clock time with milliseconds: the trace is read next to other logs. */
function timestamp(): string {
  const d = new Date();
  const ms = d.getMilliseconds();
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}`;
}

/**
 * Bytes as text a terminal can show: printable ASCII as is, CR and LF as
 * `\r` `\n` (a line break after `\n` so a request head reads like one), the rest as `\xHH`.
 */
export function escapeBytes(bytes: Uint8Array, limit = EXCERPT_BYTES): string {
  let out = "";
  const n = Math.min(bytes.length, limit);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0x0d) out += "\\r";
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x5c) out += "\\\\";
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  if (bytes.length > limit) out += `… (+${bytes.length - limit} bytes)`;
  return out;
}

const OPCODES: Record<number, string> = {
  0: "continuation",
  1: "text",
  2: "binary",
  8: "close",
  9: "ping",
  10: "pong",
};

/** A frame header for the trace: direction, opcode, length and flags. */
export function describeFrame(direction: string, f: FrameHeader): string {
  const flags = `${f.fin ? "FIN" : "not FIN (more fragments follow)"}${f.compressed ? ", RSV1 (compressed)" : ""}${f.masked ? ", masked" : ""}`;
  return `${direction} frame ${OPCODES[f.opcode] ?? f.opcode}, ${f.length} bytes, ${flags}`;
}

/** A parsed request head for the trace: its lines, then how the body is framed and what the client asks for. */
export function describeRequest(head: RequestHead): string {
  const lines = [`${head.method} ${head.target} HTTP/1.${head.version - 10}`];
  for (let i = 0; i < head.headers.length; i += 2) lines.push(`${head.headers[i]}: ${head.headers[i + 1]}`);
  const body =
    head.framing === "none"
      ? "no body"
      : head.framing === "chunked"
        ? "chunked body"
        : `body of ${head.contentLength} bytes`;
  const close = head.keepAlive ? "" : ", client asks to close after";
  const upgrade = head.upgrade ? `, asks to upgrade to ${head.upgrade}` : "";
  lines.push(`(${body}${close}${upgrade})`);
  return lines.join("\n");
}

/** A serialized response head (`bytes`, maybe followed by body bytes) for the trace; `body` when head and body go in one write. */
export function describeResponseHead(bytes: Buffer, body: Uint8Array | undefined): string {
  const end = bytes.indexOf("\r\n\r\n");
  const head = bytes
    .subarray(0, end < 0 ? bytes.length : end)
    .toString("latin1")
    .split("\r\n")
    .join("\n");
  const whole = body === undefined ? "" : ` + body ${body.length} bytes, one write`;
  return `head ${end + 4} bytes${whole}\n${head}`;
}

/** What happens to a connection after a response (RFC 9112 §9.3, §9.6): the trace's "done" step. */
export function describeAfterResponse(status: number, reusable: boolean, bodyUnread: boolean): string {
  const detail = reusable
    ? "response complete; keep-alive: the connection waits for the next request"
    : bodyUnread
      ? "response complete before the request body was read: discarding the rest to keep the connection"
      : "response complete; the connection closes (Connection: close)";
  return `${status} ${detail}`;
}

/** Writes trace lines. One per server; connections number themselves through it. */
export class Tracer {
  private lastId = 0;
  private readonly color: boolean;

  constructor(
    /** Whether reads are shown as escaped excerpts too. */
    readonly bytes = false,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {
    // Colours only on a terminal: a file or pipe gets plain text.
    this.color = out.isTTY === true && process.env.NO_COLOR === undefined;
  }

  /** A new connection number: `#1`, `#2`, ... in accept order. */
  nextId(): number {
    return ++this.lastId;
  }

  /** One step of connection `id`; `detail` continues on indented lines if it has several. */
  step(id: number, step: string, detail: string): void {
    const label = this.color && COLORS[step] !== undefined ? `\x1b[${COLORS[step]}m${step}\x1b[0m` : step;
    const head = `${timestamp()} #${id} ${label}`;
    const body = detail.includes("\n") ? detail.replaceAll("\n", "\n      ") : detail;
    this.out.write(`${head} ${body}\n`);
  }

  /** The bytes of one read, as `--trace=bytes` shows them. */
  excerpt(bytes: Uint8Array): string {
    return escapeBytes(bytes);
  }
}

/** Builds the tracer for a mode, or null when tracing is off. */
export function tracerFor(mode: TraceMode, out?: NodeJS.WritableStream): Tracer | null {
  return mode === "off" ? null : new Tracer(mode === "bytes", out);
}
