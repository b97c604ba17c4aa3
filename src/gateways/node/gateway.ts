/**
 * The node:http-style gateway: each Exchange becomes a genuine
 * `http.IncomingMessage` and `http.ServerResponse` pair handed to a
 * `(req, res)` listener, while tsgi keeps the wire (parser, limits,
 * timeouts, keep-alive, pipelining order, access log, metrics, drain).
 * See docs/interfaces/node.md.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Exchange } from "../../server/exchange.ts";
import type { Handler } from "../../server/server.ts";
import { abortRequest, createRequest } from "./request.ts";
import { createResponse } from "./response.ts";
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

/**
 * Builds the request/response pair for `exchange` and wires the end of the
 * exchange to node's events: `'close'` on `res` (and `req`) once the
 * response is finished, `'aborted'`/`'close'` on `req` and `'close'` on
 * `res` when the client leaves first.
 */
export function prepareExchange(exchange: Exchange, maxHeaders = 0): NodeExchange {
  const socket = new ExchangeSocket(exchange, exchange.info);
  const { req, startBody } = createRequest(exchange, socket, maxHeaders);
  const res = createResponse(exchange, req, socket, startBody);
  (req as { res?: ServerResponse }).res = res;

  res.on("finish", () => {
    // node's resOnFinish: an unread body is dumped, the socket detached, 'close' on the next tick.
    const r = req as IncomingMessage & { _consuming: boolean; _dump(): void };
    const rs = (req as unknown as { _readableState: { resumeScheduled: boolean } })._readableState;
    if (!r._consuming && !rs.resumeScheduled) r._dump();
    res.detachSocket(socket as never);
    process.nextTick(() => {
      const self = res as unknown as { _closed: boolean; destroyed: boolean };
      if (!self._closed) {
        self.destroyed = true;
        self._closed = true;
        res.emit("close");
      }
      socket.exchangeOver();
    });
  });

  exchange.onClientGone(() => {
    abortRequest(req);
    // node's onServerResponseClose (attached by assignSocket) emits 'close' on res.
    socket.exchangeOver();
  });
  return { exchange, req, res, socket, startBody };
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
    const { req, res } = prepareExchange(exchange);
    listener(req, res);
  };
}
