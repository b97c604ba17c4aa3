/**
 * Hono's `upgradeWebSocket` helper for apps served by tsgi, imported from
 * `tsgi/hono` the way Deno and Bun apps import theirs. It is the Fetch
 * gateway's `upgradeWebSocket` wrapped in Hono's `WSContext`. Hono is an
 * optional peer dependency: only this entry point imports it.
 */

import type { UpgradeWebSocket, WSEvents } from "hono/ws";
import { defineWebSocketHelper, WSContext } from "hono/ws";
import {
  isHandshakeError,
  type ServerWebSocket,
  type UpgradeWebSocketOptions,
  upgradeWebSocket as upgrade,
} from "../gateways/fetch/websocket.ts";
import { listElements } from "../http1/chars.ts";

/** Options of the helper: the Fetch gateway's, with the subprotocol defaulting to the client's first offer (as Hono's Deno adapter). */
export type HonoUpgradeOptions = UpgradeWebSocketOptions;

/**
 * Hono middleware/handler that upgrades to a WebSocket.
 *
 * @example
 * import { Hono } from "hono";
 * import { upgradeWebSocket } from "tsgi/hono";
 * const app = new Hono();
 * app.get("/ws", upgradeWebSocket(() => ({
 *   onMessage(event, ws) { ws.send(`echo: ${event.data}`); },
 * })));
 * export default app;
 */
export const upgradeWebSocket: UpgradeWebSocket<ServerWebSocket, HonoUpgradeOptions> = defineWebSocketHelper<
  ServerWebSocket,
  HonoUpgradeOptions
>(async (c, events: WSEvents<ServerWebSocket>, options?: HonoUpgradeOptions) => {
  // Not a WebSocket request: let the next handler answer it.
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") return;
  // SP/HTAB only (RFC 9110 §5.6.3), as checkHandshake() reads the same list.
  const offered = listElements(c.req.header("sec-websocket-protocol") ?? "")[0];
  let socket: ServerWebSocket;
  let response: Response;
  try {
    ({ socket, response } = upgrade(c.req.raw, { ...(offered ? { protocol: offered } : {}), ...options }));
  } catch (err) {
    // Hono would turn a thrown error into a 500; a bad handshake deserves its own status.
    if (isHandshakeError(err)) {
      return new Response(`${err.status} ${err.message}\n`, {
        status: err.status,
        headers: [["Content-Type", "text/plain; charset=utf-8"], ...pairs(err.headers)],
      });
    }
    throw err;
  }
  // Hono's WSContext hands ArrayBuffers to onMessage, as its other adapters do.
  socket.binaryType = "arraybuffer";
  const ws = new WSContext<ServerWebSocket>({
    send: (data) => socket.send(data),
    close: (code, reason) => socket.close(code, reason),
    raw: socket,
    get readyState() {
      return socket.readyState;
    },
    get protocol() {
      return socket.protocol;
    },
    url: socket.url,
  });
  socket.onopen = (event) => events.onOpen?.(event, ws);
  socket.onmessage = (event) => events.onMessage?.(event, ws);
  socket.onclose = (event) => events.onClose?.(event as never, ws);
  socket.onerror = (event) => events.onError?.(event, ws);
  return response;
});

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
