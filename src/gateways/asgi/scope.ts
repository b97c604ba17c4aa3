/**
 * Builds the http and websocket scopes from a parsed request head, and turns
 * the app's header lists back into the flat list the HTTP core takes.
 */

import type { RequestHead } from "../../http1/events.ts";
import type { ConnectionInfo } from "../../server/connection-info.ts";
import { decodePath, splitTarget } from "../wsgi/environ.ts";
import { ASGIContractError } from "./errors.ts";
import type { ASGIHeader, ASGIState, HTTPScope, WebSocketScope } from "./types.ts";

/** The HTTP & WebSocket spec version we implement (2.5: disconnect reasons). */
export const HTTP_SPEC_VERSION = "2.5";

/** Lower-cased header names as bytes, by the name as sent: most requests repeat a few dozen names. */
const nameCache = new Map<string, Uint8Array>();
const NAME_CACHE_LIMIT = 1000;

function nameBytes(name: string): Uint8Array {
  let bytes = nameCache.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name.toLowerCase(), "latin1");
    if (nameCache.size < NAME_CACHE_LIMIT) nameCache.set(name, bytes);
  }
  return bytes;
}

/** The request headers as ASGI pairs of bytes (the strings are wire bytes as latin-1). */
export function headerPairs(flat: readonly string[]): ASGIHeader[] {
  const out: ASGIHeader[] = new Array(flat.length >> 1);
  for (let i = 0; i < flat.length; i += 2) {
    out[i >> 1] = [nameBytes(flat[i]!), Buffer.from(flat[i + 1]!, "latin1")];
  }
  return out;
}

const EMPTY = new Uint8Array(0);

/** The keys the http and websocket scopes share. */
function base(request: RequestHead, info: ConnectionInfo, state: ASGIState) {
  const { path, query } = splitTarget(request.target);
  return {
    asgi: { version: "3.0" as const, spec_version: HTTP_SPEC_VERSION },
    http_version: request.version === 11 ? ("1.1" as const) : ("1.0" as const),
    // Percent-decoded bytes read as UTF-8, as Python's unquote() does.
    path: path.includes("%") ? Buffer.from(decodePath(path), "latin1").toString("utf8") : path,
    raw_path: path === "" ? EMPTY : Buffer.from(path, "latin1"),
    query_string: query === "" ? EMPTY : Buffer.from(query, "latin1"),
    root_path: "",
    headers: headerPairs(request.headers),
    client: [info.remoteAddress, info.remotePort] as [string, number],
    server: [info.localAddress, info.localPort] as [string, number],
    state: { ...state },
  };
}

/** The scope of one HTTP request. */
export function httpScope(request: RequestHead, info: ConnectionInfo, state: ASGIState): HTTPScope {
  return {
    type: "http",
    ...base(request, info, state),
    method: request.method,
    scheme: info.tls ? "https" : "http",
    extensions: {},
  };
}

/** The scope of one WebSocket; `subprotocols` as the client offered them. */
export function websocketScope(
  request: RequestHead,
  info: ConnectionInfo,
  state: ASGIState,
  subprotocols: string[],
): WebSocketScope {
  return {
    type: "websocket",
    ...base(request, info, state),
    scheme: info.tls ? "wss" : "ws",
    subprotocols,
    extensions: { "websocket.http.response": {} },
  };
}

function headerText(value: unknown, what: string): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.length).toString("latin1");
  throw new ASGIContractError(`${what} must be a Uint8Array or a string`);
}

/** The app's `headers` as the flat name/value list of the HTTP core. */
export function flatHeaders(headers: unknown): string[] {
  if (headers === undefined || headers === null) return [];
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] !== "function" || typeof headers === "string") {
    throw new ASGIContractError("headers must be a list of [name, value] pairs");
  }
  const flat: string[] = [];
  for (const pair of headers as Iterable<unknown>) {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw new ASGIContractError("each header must be a [name, value] pair");
    flat.push(headerText(pair[0], "a header name"), headerText(pair[1], "a header value"));
  }
  return flat;
}

/** The `body` of a body event: bytes, or empty when left out. */
export function bodyBytes(body: unknown, type: string): Uint8Array {
  if (body === undefined || body === null) return EMPTY;
  if (body instanceof Uint8Array) return body;
  const hint = typeof body === "string" ? " (encode text first, e.g. new TextEncoder().encode(text))" : "";
  throw new ASGIContractError(`${type}: body must be a Uint8Array${hint}`);
}
