/**
 * `--trace` for the ASGI-style gateway: the scope it built and every event
 * that crosses `receive()` and `send()`, which is the whole conversation
 * between server and app in this interface. Only used when tracing is on:
 * the gateway then hands the app wrapped callables instead of its own.
 */

import type { Exchange } from "../../server/exchange.ts";
import type { ReceiveEvent, SendEvent } from "./types.ts";

function bytesOf(value: unknown): string {
  return value instanceof Uint8Array
    ? `${value.length} bytes`
    : typeof value === "string"
      ? `${value.length} chars`
      : "none";
}

/** One event as a short line: its type and the fields that say what it carries. */
export function describeEvent(event: unknown): string {
  if (event === null || typeof event !== "object") return String(event);
  const e = event as Record<string, unknown>;
  const type = String(e.type);
  const parts: string[] = [];
  if (typeof e.status === "number") parts.push(`status ${e.status}`);
  if (Array.isArray(e.headers)) parts.push(`${e.headers.length} headers`);
  if ("body" in e) parts.push(`body ${bytesOf(e.body)}`);
  if ("more_body" in e) parts.push(`more_body ${Boolean(e.more_body)}`);
  if ("text" in e && e.text != null) parts.push(`text ${bytesOf(e.text)}`);
  if ("bytes" in e && e.bytes != null) parts.push(`bytes ${bytesOf(e.bytes)}`);
  if (typeof e.code === "number") parts.push(`code ${e.code}`);
  if (typeof e.subprotocol === "string") parts.push(`subprotocol ${e.subprotocol}`);
  return parts.length === 0 ? type : `${type} (${parts.join(", ")})`;
}

/** The scope's key fields. */
function traceScope(ex: Exchange, scope: Record<string, unknown>): void {
  const lines = [`ASGI-style: ${scope.type} scope built`];
  for (const key of ["method", "path", "query_string", "scheme", "http_version", "subprotocols"]) {
    const value = scope[key];
    if (value === undefined) continue;
    const shown =
      value instanceof Uint8Array
        ? JSON.stringify(Buffer.from(value).toString("latin1"))
        : JSON.stringify(value);
    lines.push(`${key}: ${shown}`);
  }
  if (Array.isArray(scope.headers)) lines.push(`headers: ${scope.headers.length} [name, value] byte pairs`);
  ex.trace("gateway", lines.join("\n"));
  ex.trace("app", "calling app(scope, receive, send)");
}

/**
 * The `receive` and `send` to give the app: the gateway's own, or with
 * `--trace` on, wrappers that first report the scope, then every event.
 */
export function appCallables(
  ex: Exchange,
  scope: object,
  receive: () => Promise<ReceiveEvent>,
  send: (event: SendEvent) => Promise<void>,
): [() => Promise<ReceiveEvent>, (event: SendEvent) => Promise<void>] {
  if (ex.tracer === null) return [receive, send];
  traceScope(ex, scope as Record<string, unknown>);
  return tracedCallables(ex, receive, send);
}

/** `receive` and `send` that report each event before passing it on. */
function tracedCallables(
  ex: Exchange,
  receive: () => Promise<ReceiveEvent>,
  send: (event: SendEvent) => Promise<void>,
): [() => Promise<ReceiveEvent>, (event: SendEvent) => Promise<void>] {
  return [
    async () => {
      const event = await receive();
      ex.trace("app", `receive() -> ${describeEvent(event)}`);
      return event;
    },
    (event) => {
      ex.trace("app", `send(${describeEvent(event)})`);
      return send(event);
    },
  ];
}
