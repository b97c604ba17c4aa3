/**
 * WebSocket negotiation on the server's terms, once the app accepts: the 101
 * response head (subprotocol, RFC 6455 §4.2.2; permessage-deflate, RFC 7692
 * §5) and the frame engine for the session. No I/O: the HTTP connection
 * sends the 101 and hands the socket over. Loaded with the session at the
 * first upgrade request (websocket-loader.ts).
 */

import type { ResponseHead } from "../http1/events.ts";
import { WebSocketCore } from "../websocket/core.ts";
import { DEFAULT_DEFLATE_CONFIG, negotiateDeflate } from "../websocket/deflate.ts";
import { acceptResponse, type HandshakeRequest } from "../websocket/handshake.ts";
import type { ServerOptions } from "./options.ts";
import { describeFrame, type Tracer } from "./trace.ts";
import type { WebSocketAccept } from "./websocket.ts";

/** An accepted handshake: what to send, and what the session runs on. */
export interface WebSocketUpgrade {
  /** The `101 Switching Protocols` head. */
  readonly head: ResponseHead;
  /** The frame engine, configured with the agreed extensions. */
  readonly core: WebSocketCore;
  /** The chosen subprotocol and the `Sec-WebSocket-Extensions` answer ("" for none). */
  readonly agreed: { protocol: string; extensions: string };
}

/**
 * Negotiates what the app's `accept` and the server's options allow: the
 * subprotocol the app chose (it must be one the client offered) and, with
 * `wsPerMessageDeflate`, permessage-deflate on the library's default terms.
 * `tracer` (with the connection's `traceId`) sees each received frame.
 * @throws WebSocketUsageError if the app chose a subprotocol the client did not offer.
 */
export function negotiateUpgrade(
  handshake: HandshakeRequest,
  accept: WebSocketAccept,
  options: ServerOptions,
  tracer: Tracer | null,
  traceId: number,
): WebSocketUpgrade {
  const deflate =
    options.wsPerMessageDeflate && handshake.extensions !== ""
      ? negotiateDeflate(handshake.extensions, DEFAULT_DEFLATE_CONFIG)
      : null;
  const protocol = accept.protocol ?? null;
  const head = acceptResponse(handshake, {
    protocol,
    extensions: deflate?.response ?? null,
    headers: accept.headers,
  });
  const core = new WebSocketCore({
    maxMessageSize: options.wsMaxMessageSize,
    deflate: deflate?.params ?? null,
    compressionThreshold: options.wsCompressionThreshold,
    onFrame: tracer === null ? null : (frame) => tracer.step(traceId, "ws", describeFrame("recv", frame)),
  });
  return { head, core, agreed: { protocol: protocol ?? "", extensions: deflate?.response ?? "" } };
}
