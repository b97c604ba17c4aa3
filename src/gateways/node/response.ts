/**
 * The response side of the node:http-style gateway: a genuine
 * `http.ServerResponse` whose output goes to the Exchange instead of a
 * socket. Node's own `writeHead`/`write`/`end` run unchanged (so
 * `headersSent`, `writableEnded`, `finished`, `'finish'`, `write()`'s
 * return value behave as node's); four internal calls are replaced by own
 * properties of the instance, which survive Express's prototype swap:
 *
 * - `_storeHeader(statusLine, headers)`: keeps the status and the header
 *   list for `exchange.respond` instead of serializing them, and turns off
 *   node's chunked framing (tsgi's serializer frames the body);
 * - `_send(data, encoding, callback)`: body bytes to `exchange.write`
 *   (the head first), or, inside `end()`, gathered for one `respond(head, body)`;
 * - `end(...)`: node's `end`, then `exchange.end()` (or the one-write respond);
 * - `writeContinue`/`_writeRaw`: nothing is written raw; `100 Continue` is
 *   sent by reading the body;
 * - `writeProcessing()`, `writeEarlyHints(hints)`: a 102 or a 103 through
 *   `exchange.informational`;
 * - `addTrailers(headers)`: kept for `exchange.end(trailers)`, which sends
 *   them when the body is chunked (node's rule too).
 */

import { ServerResponse, STATUS_CODES, validateHeaderName, validateHeaderValue } from "node:http";
import type { ResponseHead } from "../../http1/events.ts";
import type { Exchange } from "../../server/exchange.ts";
import type { RequestBody } from "./request.ts";

type Callback = (err?: Error | null) => void;

/** node's internal symbols, found by description (they are not exported); undefined if a Node renamed them. */
const probe = new ServerResponse({
  method: "GET",
  httpVersionMajor: 1,
  httpVersionMinor: 1,
  headers: {},
} as never);
probe.setHeader("x-probe", "1");
const symbols = Object.getOwnPropertySymbols(probe);
const kOutHeaders = symbols.find((s) => s.description === "kOutHeaders");
const kNeedDrain = symbols.find((s) => s.description === "kNeedDrain");

const nodeEnd = ServerResponse.prototype.end;

/** Node's `end`, whose overloads TypeScript cannot call generically. */
type EndFn = (this: ServerResponse, ...args: unknown[]) => ServerResponse;

/** Appends one header (a value array is one field line per element) to a flat list, validated as node does. */
function addHeader(list: string[], name: unknown, value: unknown, validate: boolean): void {
  const field = String(name);
  if (validate) validateHeaderName(field);
  if (Array.isArray(value)) {
    for (const v of value) {
      if (validate) validateHeaderValue(field, v as string);
      list.push(field, String(v));
    }
    return;
  }
  if (validate) validateHeaderValue(field, value as string);
  list.push(field, String(value));
}

/** The header list of `writeHead`'s `headers` argument, in any of the forms node takes. */
function headerList(res: ServerResponse, headers: unknown): string[] {
  const list: string[] = [];
  if (headers === null || headers === undefined) return list;
  // setHeader's store is a null-prototype object; the symbol check is exact, the prototype one a fallback.
  const isStore =
    kOutHeaders !== undefined
      ? headers === (res as unknown as Record<symbol, unknown>)[kOutHeaders]
      : typeof headers === "object" && !Array.isArray(headers) && Object.getPrototypeOf(headers) === null;
  if (isStore) {
    // setHeader's store: { lowercase: [name, value] }, already validated.
    for (const key in headers as Record<string, [string, unknown]>) {
      const entry = (headers as Record<string, [string, unknown]>)[key]!;
      addHeader(list, entry[0], entry[1], false);
    }
  } else if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const entry of headers as unknown[][]) addHeader(list, entry[0], entry[1], true);
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) addHeader(list, headers[i], headers[i + 1], true);
    }
  } else {
    for (const key of Object.keys(headers as object)) {
      addHeader(list, key, (headers as Record<string, unknown>)[key], true);
    }
  }
  return list;
}

function toBytes(data: unknown, encoding: unknown): Uint8Array {
  if (typeof data === "string") {
    return Buffer.from(data, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
  }
  return data as Uint8Array;
}

/** What the gateway tracks beside node's own state: one object per response, under {@link kState}. */
interface ResponseState {
  readonly exchange: Exchange;
  /** The request body (`start()` begins its read, which sends `100 Continue`). */
  readonly body: RequestBody;
  head: ResponseHead | null;
  /** The head went to the Exchange. */
  sent: boolean;
  /** Inside `end()`: body pieces are gathered for one write. */
  ending: boolean;
  /** Body pieces gathered inside `end()`: none, one, or several. */
  pending: Uint8Array | Uint8Array[] | null;
  /** Write callbacks waiting for the pending pieces or a drain. */
  callbacks: Callback[] | null;
  /** The Exchange refused the response (see {@link refuse}); output is dropped. */
  refused: boolean;
  /** exchange.onDrain is armed. */
  waiting: boolean;
  /** From `addTrailers()`: a flat name/value list, or null. */
  trailers: string[] | null;
}

/** The head has a `Trailer` field (however it was set). */
function announcesTrailers(head: ResponseHead | null): boolean {
  if (head === null) return false;
  for (let i = 0; i < head.headers.length; i += 2)
    if (head.headers[i]!.toLowerCase() === "trailer") return true;
  return false;
}

/** Where a response keeps its {@link ResponseState}. */
const kState = Symbol("tsgi.responseState");

type TsgiResponse = ServerResponse & { [kState]: ResponseState };

function stateOf(res: ServerResponse): ResponseState {
  return (res as TsgiResponse)[kState];
}

/** The Exchange a response built by {@link createResponse} writes to. */
export function responseExchange(res: ServerResponse): Exchange {
  return stateOf(res).exchange;
}

/** Calls the write callbacks gathered so far, on the next tick (as a socket write's callback would come later). */
function flushCallbacks(state: ResponseState): void {
  const callbacks = state.callbacks;
  if (callbacks === null) return;
  state.callbacks = null;
  process.nextTick(runCallbacks, callbacks);
}

function runCallbacks(callbacks: Callback[]): void {
  for (const cb of callbacks) cb();
}

function addCallback(state: ResponseState, cb: Callback): void {
  if (state.callbacks === null) state.callbacks = [cb];
  else state.callbacks.push(cb);
}

/** The Exchange refused the head (an invalid header, a body that contradicts Content-Length): a 500, logged. */
function refuse(state: ResponseState, err: unknown): void {
  state.refused = true;
  if (!state.exchange.finished) state.exchange.fail(err);
}

function sendHead(state: ResponseState, body?: Uint8Array): boolean {
  state.sent = true;
  try {
    state.exchange.respond(state.head!, body);
    return true;
  } catch (err) {
    refuse(state, err);
    return false;
  }
}

/** Replaces node's `_storeHeader`: keeps the status and header list for `exchange.respond`. */
function _storeHeader(this: ServerResponse, firstLine: string, headers: unknown): void {
  const list = headerList(this, headers);
  const reason = this.statusMessage || STATUS_CODES[this.statusCode] || "unknown";
  stateOf(this).head = { status: this.statusCode, reason, headers: list };
  let text = firstLine;
  for (let i = 0; i < list.length; i += 2) text += `${list[i]}: ${list[i + 1]}\r\n`;
  const self = this as unknown as Record<string, unknown>;
  // Informative only (morgan, express-session read it); tsgi serializes the real head.
  self._header = `${text}\r\n`;
  self._headerSent = false;
  self.chunkedEncoding = false;
  self._last = false;
}

/** Replaces node's `_send`: body bytes to the Exchange (the head first), or gathered inside `end()`. */
function _send(this: ServerResponse, data: unknown, encoding: unknown, callback: unknown): boolean {
  (this as unknown as { _headerSent: boolean })._headerSent = true;
  const state = stateOf(this);
  const exchange = state.exchange;
  const cb =
    typeof callback === "function"
      ? (callback as Callback)
      : typeof encoding === "function"
        ? (encoding as Callback)
        : null;
  if (state.refused || (exchange.finished && !state.ending)) {
    if (cb !== null) process.nextTick(cb);
    return true;
  }
  if (state.ending && !state.sent) {
    // Inside end(): gathered for one respond(head, body). node's end() sends '' with its callback.
    if (data !== "") {
      const bytes = toBytes(data, encoding);
      if (bytes.length > 0) {
        const pending = state.pending;
        if (pending === null) state.pending = bytes;
        else if (Array.isArray(pending)) pending.push(bytes);
        else state.pending = [pending, bytes];
      }
    }
    if (cb !== null) addCallback(state, cb);
    return true;
  }
  if (!state.sent && !sendHead(state)) {
    if (cb !== null) process.nextTick(cb);
    return true;
  }
  let flowing = true;
  if (data !== "" && !exchange.finished) {
    const bytes = toBytes(data, encoding);
    if (bytes.length > 0) flowing = exchange.write(bytes);
  }
  if (cb !== null) addCallback(state, cb);
  if (flowing && !state.waiting) {
    flushCallbacks(state);
  } else if (!state.waiting) {
    state.waiting = true;
    exchange.onDrain(() => {
      state.waiting = false;
      flushCallbacks(state);
      const self = this as unknown as Record<symbol, unknown>;
      if (kNeedDrain !== undefined) {
        if (!self[kNeedDrain]) return;
        self[kNeedDrain] = false;
      }
      if (!this.finished) this.emit("drain");
    });
  }
  return flowing;
}

/** Replaces node's `end`: node's own, then the one-write respond or `exchange.end()`. */
function end(this: ServerResponse, ...args: unknown[]): ServerResponse {
  const state = stateOf(this);
  if (this.finished || state.refused) return (nodeEnd as EndFn).apply(this, args);
  state.ending = true;
  try {
    (nodeEnd as EndFn).apply(this, args);
  } finally {
    state.ending = false;
  }
  if (!this.finished || state.refused) return this;
  const exchange = state.exchange;
  if (!state.sent) {
    // The whole response in one write, with its Content-Length.
    const pending = state.pending;
    state.pending = null;
    const body = pending === null ? EMPTY : Array.isArray(pending) ? Buffer.concat(pending) : pending;
    // Callbacks ('finish') first: completing the exchange may run the next
    // pipelined request's app at once, whose 'finish' must come after this one.
    flushCallbacks(state);
    if (exchange.finished) return this;
    // node's rule: a whole body in end() gets a Content-Length (trailers
    // then dropped) unless a Trailer header announces trailers: then chunked.
    if (state.trailers === null || !announcesTrailers(state.head)) sendHead(state, body);
    else if (sendHead(state)) {
      if (body.length > 0) exchange.write(body);
      if (!exchange.finished) exchange.end(state.trailers);
    }
    return this;
  }
  if (!exchange.finished) exchange.end(state.trailers ?? undefined);
  if (!state.waiting) flushCallbacks(state);
  return this;
}

/** Replaces node's `writeContinue`: reading the body is what sends `100 Continue`. */
function writeContinue(this: ServerResponse, cb?: () => void): void {
  stateOf(this).body.start();
  (this as unknown as { _sent100: boolean })._sent100 = true;
  if (typeof cb === "function") process.nextTick(cb);
}

/** Replaces node's `writeProcessing`: a 102 through the Exchange, while no head has gone out. */
function writeProcessing(this: ServerResponse, cb?: unknown): void {
  const state = stateOf(this);
  const exchange = state.exchange;
  if (!state.sent && !exchange.headersSent && !exchange.finished)
    exchange.informational({ status: 102, headers: [] });
  if (typeof cb === "function") process.nextTick(cb as () => void);
}

/** Replaces node's `writeEarlyHints`: a 103 through the Exchange, while no head has gone out. */
function writeEarlyHints(this: ServerResponse, hints: unknown, cb?: unknown): void {
  const state = stateOf(this);
  const exchange = state.exchange;
  // node's rules: an object whose `link` (a string or an array of them) is required; other keys are fields.
  const h = (hints !== null && typeof hints === "object" ? hints : {}) as Record<string, unknown>;
  const link = Array.isArray(h.link) ? h.link.join(", ") : h.link;
  const open = !state.sent && !exchange.headersSent && !exchange.finished;
  if (link !== null && link !== undefined && link !== "" && open) {
    const headers: string[] = [];
    addHeader(headers, "Link", String(link), true);
    for (const key of Object.keys(h)) if (key !== "link") addHeader(headers, key, h[key], true);
    exchange.informational({ status: 103, reason: "Early Hints", headers });
  }
  if (typeof cb === "function") process.nextTick(cb as () => void);
}

/** Replaces node's `addTrailers`: kept for `exchange.end(trailers)` (sent only with chunked framing). */
function addTrailers(this: ServerResponse, headers: unknown): void {
  const state = stateOf(this);
  const list = state.trailers ?? [];
  if (Array.isArray(headers)) {
    for (const entry of headers as unknown[][]) addHeader(list, entry[0], entry[1], true);
  } else if (headers !== null && typeof headers === "object") {
    for (const key of Object.keys(headers))
      addHeader(list, key, (headers as Record<string, unknown>)[key], true);
  }
  state.trailers = list;
}

/** Replaces `_writeRaw`: nothing reaches the socket but through the Exchange. */
function _writeRaw(this: ServerResponse, ...args: unknown[]): boolean {
  const cb = args.find((a) => typeof a === "function") as (() => void) | undefined;
  if (cb !== undefined) process.nextTick(cb);
  return false;
}

const EMPTY = new Uint8Array(0);

/**
 * Builds the `ServerResponse` for `req`, wired to `exchange`. `body.start()`
 * begins the request body read (which sends `100 Continue`). The replaced
 * methods are shared functions set as own properties by plain assignment
 * (no closure and no `defineProperty` per response: both showed in profiles).
 */
export function createResponse(
  exchange: Exchange,
  req: import("node:http").IncomingMessage,
  body: RequestBody,
): ServerResponse {
  const res = new ServerResponse(req) as TsgiResponse;
  res[kState] = {
    exchange,
    body,
    head: null,
    sent: false,
    ending: false,
    pending: null,
    callbacks: null,
    refused: false,
    waiting: false,
    trailers: null,
  };
  const own = res as unknown as Record<string, unknown>;
  own._storeHeader = _storeHeader;
  own._send = _send;
  own.end = end;
  own.writeContinue = writeContinue;
  own.writeProcessing = writeProcessing;
  own.writeEarlyHints = writeEarlyHints;
  own.addTrailers = addTrailers;
  own._writeRaw = _writeRaw;
  return res;
}
