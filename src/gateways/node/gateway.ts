/**
 * The node:http-style gateway: each Exchange becomes a genuine
 * `http.IncomingMessage` and `http.ServerResponse` pair handed to a
 * `(req, res)` listener, while tsgi keeps the wire (parser, limits,
 * timeouts, keep-alive, pipelining order, access log, metrics, drain).
 * See docs/interfaces/node.md.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { ConnectionInfo } from "../../server/connection-info.ts";
import type { Exchange } from "../../server/exchange.ts";
import type { Handler } from "../../server/server.ts";
import { abortRequest, createRequest, type RequestBody } from "./request.ts";
import { createResponse, responseExchange } from "./response.ts";
import { ExchangeSocket } from "./socket.ts";

/** A node:http `'request'` listener: Express apps, Koa's `app.callback()`, plain `(req, res)` functions. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/** What the gateway hands its dispatcher for one request. */
export interface NodeExchange {
  readonly exchange: Exchange;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly socket: ExchangeSocket;
  /** Starts the body read now (`res.writeContinue()` does the same). */
  readonly startBody: () => void;
}

/** Each connection's socket, by the connection's ConnectionInfo (collected with it). */
const sockets = new WeakMap<ConnectionInfo, ExchangeSocket>();

/** What the app is called with once a request's pair is built. */
type Run = (req: IncomingMessage, res: ServerResponse, body: RequestBody) => void;

/**
 * node's resOnFinish: an unread body is dumped, the socket detached, and
 * on the next tick 'close' and the next pipelined request waiting for the socket.
 */
function onFinish(this: ServerResponse): void {
  const req = this.req as IncomingMessage & { _consuming: boolean; _dump(): void };
  const socket = req.socket as unknown as ExchangeSocket;
  const rs = (req as unknown as { _readableState: { resumeScheduled: boolean } })._readableState;
  if (!req._consuming && !rs.resumeScheduled) req._dump();
  if (this.socket === (socket as unknown)) this.detachSocket(socket as never);
  process.nextTick(closeAfterFinish, this, socket, responseExchange(this));
}

function closeAfterFinish(res: ServerResponse, socket: ExchangeSocket, exchange: Exchange): void {
  const self = res as unknown as { _closed: boolean; destroyed: boolean };
  if (!self._closed) {
    self.destroyed = true;
    self._closed = true;
    res.emit("close");
  }
  socket.exchangeDone(exchange);
  socket.takeWaiting()?.();
}

/**
 * Calls `run` with `exchange`'s request/response pair: now, or for a
 * pipelined request whose predecessor has ended but not yet emitted
 * `'finish'` (a tick away), once that response has finished and closed.
 * node:http hands the socket to the next response at that point too, but
 * calls every pipelined request's listener as its head is parsed; here the
 * pair is built when the socket is handed on, so a connection has one pair
 * alive instead of a read's worth. Sixteen pairs kept alive across every
 * scavenge made V8 grow its young generation to the largest size on Node
 * 24 (docs/performance.md, "Peak memory").
 */
function begin(exchange: Exchange, maxHeaders: number, run: Run): void {
  // One socket per connection, as node's (ConnectionInfo is the connection's
  // own object unless trusted proxy headers rewrote it for this request).
  const info = exchange.info;
  let socket = sockets.get(info);
  if (socket !== undefined && !socket.destroyed && socket._httpMessage !== null) {
    // The previous response still holds the socket. Ended, its 'finish' is a
    // tick away: this request waits for the socket. Not ended (it failed):
    // this exchange gets a socket of its own.
    if ((socket._httpMessage as ServerResponse).finished) {
      wait(socket, exchange, maxHeaders, run);
      return;
    }
    socket = undefined;
  }
  if (socket === undefined || socket.destroyed) {
    socket = new ExchangeSocket(info);
    sockets.set(info, socket);
  }
  build(socket, exchange, maxHeaders, run);
}

function wait(socket: ExchangeSocket, exchange: Exchange, maxHeaders: number, run: Run): void {
  const start = (): void => {
    if (exchange.finished) return;
    try {
      // The socket is free now (or destroyed by the app: then a new one).
      begin(exchange, maxHeaders, run);
    } catch (err) {
      // As a listener that throws when called at once (src/server/connection.ts startExchange).
      exchange.fail(err);
    }
  };
  socket.wait(start);
  exchange.onClientGone(() => {
    if (!socket.dropWaiting(start)) return;
    // Never started: only the socket's 'close' to emit, as when the client leaves mid-exchange.
    socket.attach(exchange);
    socket.clientGone(exchange);
  });
}

/**
 * Builds the pair on `socket` and wires the end of the exchange to node's
 * events: `'close'` on `res` (and `req`) once the response is finished,
 * `'aborted'`/`'close'` on `req` and `'close'` on `res` when the client
 * leaves first. Then calls `run`.
 */
function build(socket: ExchangeSocket, exchange: Exchange, maxHeaders: number, run: Run): void {
  socket.attach(exchange);
  const { req, body } = createRequest(exchange, socket, maxHeaders);
  const res = createResponse(exchange, req, body);
  (req as { res?: ServerResponse }).res = res;
  res.on("finish", onFinish);
  res.assignSocket(socket as never);
  exchange.onClientGone(() => {
    // node's onServerResponseClose (attached by assignSocket) emits 'close' on res.
    abortRequest(req);
    socket.clientGone(exchange);
  });
  run(req, res, body);
}

/**
 * Calls `use` with the request/response pair for `exchange`, wired to
 * node's events (see {@link nodeGateway}): at once, or for a pipelined
 * request once the previous response on its connection has finished and
 * closed (a tick or two after its `end()`).
 */
export function prepareExchange(
  exchange: Exchange,
  maxHeaders: number,
  use: (prepared: NodeExchange) => void,
): void {
  begin(exchange, maxHeaders, (req, res, body) => {
    use({
      exchange,
      req,
      res,
      socket: req.socket as unknown as ExchangeSocket,
      startBody: () => body.start(),
    });
  });
}

/**
 * The gateway for a `(req, res)` listener: every request goes to it.
 *
 * @example
 * import express from "express";
 * const app = express();
 * app.get("/", (req, res) => res.send("hi"));
 * await serve(app, { interface: "node" });
 */
export function nodeGateway(listener: NodeListener): Handler {
  // Two arguments only: Express's app is `(req, res, next)`.
  const run: Run = (req, res) => listener(req, res);
  return (exchange: Exchange) => begin(exchange, 0, run);
}
