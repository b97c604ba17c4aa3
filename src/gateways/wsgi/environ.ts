/**
 * Builds the PEP 3333 `environ` from a parsed request head: the CGI variables,
 * the `HTTP_*` headers and the `wsgi.*` keys.
 */

import type { RequestHead } from "../../http1/events.ts";
import type { ConnectionInfo } from "../../server/connection-info.ts";
import { BodyInput } from "./input.ts";
import type { Environ, WSGIErrors } from "./types.ts";

/** How the process runs apps; the `wsgi.multi*` flags come from here. */
export interface EnvironFlags {
  multithread: boolean;
  multiprocess: boolean;
}

/** `HTTP_*` key for each header name seen, so the uppercase/replace runs once per distinct name. */
const keyCache = new Map<string, string | null>();
const KEY_CACHE_LIMIT = 1000;

/**
 * The environ key for a header, or null for headers that get no `HTTP_` key:
 * Content-Type/-Length have their own keys, and names with "_" are dropped
 * because "X_Forwarded_For" and "X-Forwarded-For" would both become
 * HTTP_X_FORWARDED_FOR and one could spoof the other (gunicorn does the same).
 */
function headerKey(name: string): string | null {
  let key = keyCache.get(name);
  if (key !== undefined) return key;
  const upper = name.toUpperCase();
  if (upper === "CONTENT-TYPE" || upper === "CONTENT-LENGTH" || upper.includes("_")) key = null;
  else key = `HTTP_${upper.replaceAll("-", "_")}`;
  if (keyCache.size < KEY_CACHE_LIMIT) keyCache.set(name, key);
  return key;
}

/** Percent-decodes a path to bytes and returns them as latin-1 (PEP 3333 native string). Bad escapes stay as they are. */
export function decodePath(path: string): string {
  if (!path.includes("%")) return path;
  const bytes = Buffer.allocUnsafe(path.length);
  let n = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 && i + 2 < path.length) {
      const hex = path.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes[n++] = Number.parseInt(hex, 16);
        i += 2;
        continue;
      }
    }
    bytes[n++] = c;
  }
  return bytes.toString("latin1", 0, n);
}

/** Splits "host[:port]" (IPv6 literals in brackets); port is "" when absent. */
function splitHostPort(value: string): [string, string] {
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    const port = value.charCodeAt(close + 1) === 0x3a ? value.slice(close + 2) : "";
    return [value.slice(0, close + 1), port];
  }
  const colon = value.lastIndexOf(":");
  return colon === -1 ? [value, ""] : [value.slice(0, colon), value.slice(colon + 1)];
}

/**
 * The path, query and authority of a request-target in any of its four forms
 * (RFC 9112 §3.2). The fragment, which clients should not send, is dropped.
 */
export function splitTarget(target: string): { authority: string | null; path: string; query: string } {
  let authority: string | null = null;
  let rest = target;
  if (target.charCodeAt(0) !== 0x2f && target !== "*") {
    const scheme = target.indexOf("://");
    if (scheme === -1) return { authority: target, path: "", query: "" }; // CONNECT authority-form
    const start = scheme + 3;
    let end = target.length;
    for (const c of "/?#") {
      const k = target.indexOf(c, start);
      if (k !== -1 && k < end) end = k;
    }
    authority = target.slice(start, end);
    authority = authority.slice(authority.lastIndexOf("@") + 1);
    rest = target.slice(end);
    if (rest === "" || rest.charCodeAt(0) !== 0x2f) rest = `/${rest}`;
  }
  const hash = rest.indexOf("#");
  if (hash !== -1) rest = rest.slice(0, hash);
  const q = rest.indexOf("?");
  return q === -1
    ? { authority, path: rest, query: "" }
    : { authority, path: rest.slice(0, q), query: rest.slice(q + 1) };
}

/**
 * SERVER_NAME and SERVER_PORT of the last Host value split: clients repeat
 * their Host on every request, so the split (and its array) is done once.
 */
let lastHost = { value: "", scheme: "", name: "", port: "" };

/** Builds the environ for one request whose whole body is `body`. */
export function buildEnviron(
  request: RequestHead,
  body: Uint8Array,
  trailers: string[],
  info: ConnectionInfo,
  errors: WSGIErrors,
  flags: EnvironFlags,
): Environ {
  const { authority, path, query } = splitTarget(request.target);
  const scheme = info.tls ? "https" : "http";
  // RFC 9112 §3.2.2: with an absolute-form target the Host field is ignored.
  const hostValue = authority ?? request.host;
  let serverName: string;
  let serverPort: string;
  if (hostValue === "") {
    serverName = info.localAddress;
    serverPort = String(info.localPort);
  } else if (hostValue === lastHost.value && scheme === lastHost.scheme) {
    serverName = lastHost.name;
    serverPort = lastHost.port;
  } else {
    const [name, port] = splitHostPort(hostValue);
    serverName = name;
    serverPort = port !== "" ? port : scheme === "https" ? "443" : "80";
    lastHost = { value: hostValue, scheme, name, port: serverPort };
  }

  const environ: Environ = {
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: "",
    PATH_INFO: decodePath(path),
    QUERY_STRING: query,
    SERVER_NAME: serverName,
    SERVER_PORT: serverPort,
    SERVER_PROTOCOL: request.version === 11 ? "HTTP/1.1" : "HTTP/1.0",
    REMOTE_ADDR: info.remoteAddress,
    REMOTE_PORT: String(info.remotePort),
    RAW_URI: request.target,
    "wsgi.version": [1, 0],
    "wsgi.url_scheme": scheme,
    "wsgi.input": new BodyInput(body),
    "wsgi.input_terminated": true,
    "wsgi.errors": errors,
    "wsgi.multithread": flags.multithread,
    "wsgi.multiprocess": flags.multiprocess,
    "wsgi.run_once": false,
    "tsgi.trailers": pairs(trailers),
  };

  const headers = request.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    const key = headerKey(name);
    if (key === null) {
      const lower = name.toLowerCase();
      if (lower === "content-type") environ.CONTENT_TYPE = value;
      else if (lower === "content-length") environ.CONTENT_LENGTH = value;
      continue;
    }
    const previous = environ[key];
    // Repeated fields become one comma-separated value (RFC 9110 §5.3), as wsgiref
    // does; Cookie lines are joined with "; ", the separator inside one Cookie field.
    if (typeof previous === "string")
      environ[key] = `${previous}${key === "HTTP_COOKIE" ? "; " : ","}${value}`;
    else environ[key] = value;
  }
  // The gateway reads the whole body first, so its length is known even for chunked requests.
  if (request.framing === "chunked") environ.CONTENT_LENGTH = String(body.length);
  return environ;
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
