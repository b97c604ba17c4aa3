/**
 * Dispatch in node:http's manner onto an event emitter (an `http.Server`
 * made but not listened, or tsgi's own node-style `Server`): `'upgrade'`
 * with `(req, socket, head)` when it has listeners, `'checkContinue'` for
 * `Expect: 100-continue` when it has listeners, else `'request'`.
 */

import type { EventEmitter } from "node:events";
import { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Exchange } from "../../server/exchange.ts";
import type { Handler } from "../../server/server.ts";
import { prepareExchange } from "./gateway.ts";
import { addHeaderLines } from "./request.ts";

/** What the dispatcher reads of its emitter besides the events. */
export interface NodeEmitter extends EventEmitter {
  /** node's `server.maxHeadersCount`: the request carries only this many header fields (null or 0: all). */
  maxHeadersCount?: number | null;
}

/** The upgrade request on the raw socket, as node hands it to `'upgrade'` listeners. */
function upgradeRequest(exchange: Exchange, socket: Socket, maxHeaders: number): IncomingMessage {
  const head = exchange.request;
  const req = new IncomingMessage(socket);
  req.method = head.method;
  req.url = head.target;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = head.version === 11 ? 1 : 0;
  req.httpVersion = head.version === 11 ? "1.1" : "1.0";
  const fields = maxHeaders > 0 ? head.headers.slice(0, maxHeaders * 2) : head.headers;
  addHeaderLines(req, fields);
  (req as { upgrade?: boolean }).upgrade = true;
  req.complete = true;
  req.push(null);
  return req;
}

/**
 * The gateway that emits each request on `target`, as node's `http.Server` does.
 * A listener that throws gets the usual tsgi answer: a logged 500 (node would crash the process).
 */
export function emitterGateway(target: NodeEmitter): Handler {
  return (exchange: Exchange) => {
    const maxHeaders = target.maxHeadersCount ?? 0;
    if (exchange.request.upgrade !== "" && target.listenerCount("upgrade") > 0) {
      // The listener speaks the next protocol on the raw socket itself (ws does).
      const { socket, head } = exchange.detachSocket(true);
      const req = upgradeRequest(exchange, socket, maxHeaders);
      target.emit("upgrade", req, socket, Buffer.from(head.buffer, head.byteOffset, head.byteLength));
      return;
    }
    const prepared = prepareExchange(exchange, maxHeaders);
    const event =
      exchange.request.expectContinue && target.listenerCount("checkContinue") > 0
        ? "checkContinue"
        : "request";
    target.emit(event, prepared.req, prepared.res);
  };
}
