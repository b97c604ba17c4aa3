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

/**
 * node's resOnFinish: an unread body is dumped, the socket detached and
 * handed to the next pipelined response waiting for it, 'close' on the next tick.
 */
function onFinish(this: ServerResponse): void {
  const req = this.req as IncomingMessage & { _consuming: boolean; _dump(): void };
  const socket = req.socket as unknown as ExchangeSocket;
  const rs = (req as unknown as { _readableState: { resumeScheduled: boolean } })._readableState;
  if (!req._consuming && !rs.resumeScheduled) req._dump();
  if (this.socket === (socket as unknown)) {
    this.detachSocket(socket as never);
    const next = socket.dequeue();
    if (next !== null) next.assignSocket(socket as never);
  } else {
    socket.unqueue(this); // never got the socket (the client left first)
  }
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
}

/**
 * Builds the request/response pair for `exchange` and wires the end of the
 * exchange to node's events: `'close'` on `res` (and `req`) once the
 * response is finished, `'aborted'`/`'close'` on `req` and `'close'` on
 * `res` when the client leaves first. Returns the response (`res.req` is the request).
 */
function prepare(exchange: Exchange, maxHeaders: number): { res: ServerResponse; body: RequestBody } {
  // One socket per connection, as node's (ConnectionInfo is the connection's
  // own object unless trusted proxy headers rewrote it for this request).
  const info = exchange.info;
  let socket = sockets.get(info);
  let queued = false;
  if (socket !== undefined && !socket.destroyed && socket._httpMessage !== null) {
    // The previous response still holds the socket. Ended, its 'finish' is a
    // tick away (pipelined requests answered in one read): this one waits
    // for the socket, as node queues a pipelined response. Not ended (it
    // failed): this exchange gets a socket of its own.
    if ((socket._httpMessage as ServerResponse).finished) queued = true;
    else socket = undefined;
  }
  if (socket === undefined || socket.destroyed) {
    socket = new ExchangeSocket(info);
    sockets.set(info, socket);
  }
  socket.attach(exchange);
  const { req, body } = createRequest(exchange, socket, maxHeaders);
  const res = createResponse(exchange, req, body);
  (req as { res?: ServerResponse }).res = res;
  res.on("finish", onFinish);
  if (queued) socket.enqueue(res);
  else res.assignSocket(socket as never);
  const sock = socket;
  exchange.onClientGone(() => {
    abortRequest(req);
    // node's onServerResponseClose (attached by assignSocket) emits 'close' on res;
    // a response still waiting for the socket is closed here.
    if (sock.unqueue(res)) {
      const self = res as unknown as { _closed: boolean; destroyed: boolean };
      self.destroyed = true;
      self._closed = true;
      res.emit("close");
    }
    sock.clientGone(exchange);
  });
  return { res, body };
}

/**
 * Builds the request/response pair for `exchange` and wires the end of the
 * exchange to node's events: `'close'` on `res` (and `req`) once the
 * response is finished, `'aborted'`/`'close'` on `req` and `'close'` on
 * `res` when the client leaves first.
 */
export function prepareExchange(exchange: Exchange, maxHeaders = 0): NodeExchange {
  const { res, body } = prepare(exchange, maxHeaders);
  const req = res.req;
  return {
    exchange,
    req,
    res,
    socket: req.socket as unknown as ExchangeSocket,
    startBody: () => body.start(),
  };
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
  return (exchange: Exchange) => {
    const { res } = prepare(exchange, 0);
    listener(res.req, res);
  };
}
