/**
 * The request side of the node:http-style gateway: a genuine
 * `http.IncomingMessage` filled from the Exchange's request head, its body
 * pushed from `exchange.readBody` with backpressure both ways (`_read` asks
 * the Exchange for more, a full stream buffer pauses it).
 */

import { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { BodySink, Exchange } from "../../server/exchange.ts";
import type { ExchangeSocket } from "./socket.ts";

/** node's error for a request whose client left: `ECONNRESET`, message "aborted". */
function abortedError(): Error {
  const err = new Error("aborted") as NodeJS.ErrnoException;
  err.code = "ECONNRESET";
  return err;
}

/** node's parser callback on IncomingMessage (the same in Node 20 and 24). */
interface NodeInternals {
  _addHeaderLines(headers: string[], n: number): void;
}

/**
 * Gives `req` its header fields (or, once `complete`, its trailers) as
 * node's parser does, so node's lazy `headers`/`trailers` getters apply
 * node's own joining rules. Should a Node lack the internal, the raw list
 * and a plain joined object are set instead.
 */
export function addHeaderLines(req: IncomingMessage, fields: string[]): void {
  const internals = req as unknown as Partial<NodeInternals>;
  if (typeof internals._addHeaderLines === "function") {
    internals._addHeaderLines(fields, fields.length);
    return;
  }
  const joined: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!.toLowerCase();
    const value = fields[i + 1]!;
    joined[name] = joined[name] === undefined ? value : `${joined[name]}, ${value}`;
  }
  if (req.complete) {
    req.rawTrailers = fields;
    (req as { trailers: unknown }).trailers = joined;
  } else {
    req.rawHeaders = fields;
    (req as { headers: unknown }).headers = joined;
  }
}

/** Where a request keeps its {@link RequestBody}. */
const kBody = Symbol("tsgi.requestBody");

/**
 * The request body's path from the Exchange into `req`: the Exchange's
 * {@link BodySink} (one object per request, no closures), started by the
 * first `_read` or by `res.writeContinue()`.
 */
export class RequestBody implements BodySink {
  /** `exchange.readBody` was called. */
  reading = false;
  /** The body ended (or was failed). */
  done = false;

  constructor(
    readonly req: IncomingMessage,
    readonly exchange: Exchange,
  ) {}

  data(chunk: Uint8Array): void {
    // Socket reads are Buffers already; a view is made only for a plain Uint8Array.
    const buffer = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!this.req.push(buffer)) this.exchange.pauseBody();
  }

  end(trailers: string[]): void {
    this.done = true;
    this.req.complete = true;
    if (trailers.length > 0) addHeaderLines(this.req, trailers);
    this.req.push(null);
  }

  error(_err: Error): void {
    this.done = true;
    if (!this.req.destroyed) this.req.destroy(abortedError());
  }

  /** Starts the body read (which sends `100 Continue` to a client waiting for it). */
  start(): void {
    if (this.reading || this.done) return;
    this.reading = true;
    const exchange = this.exchange;
    if (exchange.finished && !exchange.clientGone) {
      // The response completed before the body was read: tsgi discards
      // the rest (up to maxDrainSize) so the connection can go on, as node's
      // _dump reads it away. So the request counts as complete, as in node
      // (else node's _destroy would emit 'aborted' and destroy the socket,
      // building a premature-close error with its stack on every such request).
      this.done = true;
      this.req.complete = true;
      this.req.push(null);
      return;
    }
    exchange.readBody(this);
  }
}

/** `req._read`, shared by every request: starts or resumes the Exchange's body. */
function _read(this: IncomingMessage & { _consuming: boolean; [kBody]: RequestBody }): void {
  if (!this._consuming) {
    (this as unknown as { _readableState: { readingMore: boolean } })._readableState.readingMore = false;
    this._consuming = true;
  }
  const body = this[kBody];
  if (body.done) return;
  if (!body.reading) body.start();
  else if (body.exchange.bodyPaused) body.exchange.resumeBody();
}

/**
 * A genuine `IncomingMessage` on `socket` carrying `exchange`'s request head:
 * method, url, version and (up to `maxHeaders` fields, 0: all) its headers;
 * `upgrade` is true only for the requests node emits as `'upgrade'`/`'connect'`.
 */
export function incomingMessage(
  exchange: Exchange,
  socket: Socket,
  maxHeaders: number,
  upgrade: boolean,
): IncomingMessage {
  const head = exchange.request;
  const req = new IncomingMessage(socket);
  req.method = head.method;
  req.url = head.target;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = head.version === 11 ? 1 : 0;
  req.httpVersion = head.version === 11 ? "1.1" : "1.0";
  // node's own parser callback: sets rawHeaders and the count its lazy
  // `headers`/`headersDistinct` getters read (with node's joining rules).
  const fields = maxHeaders > 0 ? head.headers.slice(0, maxHeaders * 2) : head.headers;
  addHeaderLines(req, fields);
  (req as { upgrade?: boolean }).upgrade = upgrade;
  return req;
}

/**
 * Builds the `IncomingMessage` for `exchange`. Its `_read` is an own
 * property (set by assignment: cheaper than `defineProperty`), so it
 * survives Express's prototype swap.
 */
export function createRequest(
  exchange: Exchange,
  socket: ExchangeSocket,
  /** node's `server.maxHeadersCount`: keep only this many header fields (0: all). */
  maxHeaders = 0,
): { req: IncomingMessage; body: RequestBody } {
  const req = incomingMessage(exchange, socket as never, maxHeaders, false) as IncomingMessage & {
    [kBody]: RequestBody;
  };
  const body = new RequestBody(req, exchange);
  req[kBody] = body;
  (req as unknown as { _read: unknown })._read = _read;
  return { req, body };
}

/**
 * The client left before the response completed: node destroys the request
 * with `ECONNRESET` "aborted", which emits `'aborted'` (if the body was not
 * complete) and `'close'`.
 */
export function abortRequest(req: IncomingMessage): void {
  if (!req.destroyed) req.destroy(abortedError());
}
