/**
 * Dispatch in node:http's manner onto an event emitter (an `http.Server`
 * made but not listened, or tsgi's own node-style `Server`): `'connect'`
 * with `(req, socket, head)` for CONNECT when it has listeners (without, the
 * connection answers 501), `'upgrade'` with `(req, socket, head)` when it
 * has listeners, `'checkContinue'` for `Expect: 100-continue` when it has
 * listeners, else `'request'`.
 */

import type { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Exchange } from "../../server/exchange.ts";
import type { Handler } from "../../server/server.ts";
import { prepareExchange } from "./gateway.ts";
import { incomingMessage } from "./request.ts";

/** What the dispatcher reads of its emitter besides the events. */
export interface NodeEmitter extends EventEmitter {
  /** node's `server.maxHeadersCount`: the request carries only this many header fields (null or 0: all). */
  maxHeadersCount?: number | null;
}

/** The upgrade or CONNECT request on the raw socket, as node hands it to `'upgrade'` and `'connect'` listeners. */
function upgradeRequest(exchange: Exchange, socket: Socket, maxHeaders: number): IncomingMessage {
  const req = incomingMessage(exchange, socket, maxHeaders, true);
  req.complete = true;
  req.push(null);
  return req;
}

const CONNECT_WITH_CONTENT = Buffer.from("400 Bad Request: a CONNECT request has no content\n", "latin1");
const NO_TUNNEL = Buffer.from("501 Not Implemented: this server opens no tunnels\n", "latin1");
const TEXT = ["Content-Type", "text/plain; charset=utf-8", "Connection", "close"];

/**
 * A CONNECT request for the `'connect'` listeners: they own the socket from
 * here and answer on it themselves (`HTTP/1.1 200 Connection Established`,
 * then the tunnel), as with node:http.
 */
function emitConnect(target: NodeEmitter, exchange: Exchange, maxHeaders: number): void {
  if (target.listenerCount("connect") === 0) {
    // The listener went away after the connection asked (see acceptsConnect): node's answer without one.
    exchange.respond({ status: 501, headers: TEXT }, NO_TUNNEL);
    return;
  }
  if (exchange.request.framing !== "none") {
    // RFC 9110 §9.3.6: "A CONNECT request message does not have content."
    // Bytes framed as a body are neither the request's nor clearly the
    // tunnel's (node would hand them to the tunnel); refuse rather than guess.
    exchange.respond({ status: 400, headers: TEXT }, CONNECT_WITH_CONTENT);
    return;
  }
  // Accounted as 200 in the access log and metrics: the listener's status line is not seen.
  const { socket, head } = exchange.detachSocket(true, 200);
  const req = upgradeRequest(exchange, socket, maxHeaders);
  target.emit("connect", req, socket, Buffer.from(head.buffer, head.byteOffset, head.byteLength));
}

/**
 * The gateway that emits each request on `target`, as node's `http.Server` does.
 * A listener that throws gets the usual tsgi answer: a logged 500 (node would crash the process).
 * CONNECT reaches it only while `target` has a `'connect'` listener
 * (`RequestHandler.acceptsConnect`, src/server/connection.ts); else the connection answers 501.
 */
export function emitterGateway(target: NodeEmitter): Handler {
  const handler = (exchange: Exchange): void => {
    const maxHeaders = target.maxHeadersCount ?? 0;
    if (exchange.request.method === "CONNECT") {
      emitConnect(target, exchange, maxHeaders);
      return;
    }
    if (exchange.request.upgrade !== "" && target.listenerCount("upgrade") > 0) {
      // The listener speaks the next protocol on the raw socket itself (ws does).
      const { socket, head } = exchange.detachSocket(true);
      const req = upgradeRequest(exchange, socket, maxHeaders);
      target.emit("upgrade", req, socket, Buffer.from(head.buffer, head.byteOffset, head.byteLength));
      return;
    }
    prepareExchange(exchange, maxHeaders, ({ req, res }) => {
      const event =
        exchange.request.expectContinue && target.listenerCount("checkContinue") > 0
          ? "checkContinue"
          : "request";
      target.emit(event, req, res);
    });
  };
  return Object.assign(handler, { acceptsConnect: () => target.listenerCount("connect") > 0 });
}
