/**
 * Whether a request may become a WebSocket here (RFC 6455 §4.2.1 and the
 * `wsMaxConnections` limit). Light on purpose: every server loads it, while
 * what an accepted upgrade needs (websocket-negotiate.ts, the session) is
 * loaded at the first upgrade request (websocket-loader.ts). No I/O.
 */

import type { RequestHead } from "../http1/events.ts";
import { HandshakeError } from "../websocket/errors.ts";
import { checkHandshake, type HandshakeRequest } from "../websocket/handshake.ts";
import type { ServerOptions } from "./options.ts";

/**
 * Validates `request` as an opening handshake and checks there is room for
 * one more WebSocket (`open` are open now). Sends nothing.
 * @throws HandshakeError with the status (400, 426, 503) and headers to answer with.
 */
export function checkUpgrade(request: RequestHead, options: ServerOptions, open: number): HandshakeRequest {
  const handshake = checkHandshake(request);
  const max = options.wsMaxConnections;
  if (max > 0 && open >= max) {
    throw new HandshakeError("too many WebSocket connections", 503, ["Retry-After", "5"]);
  }
  return handshake;
}
