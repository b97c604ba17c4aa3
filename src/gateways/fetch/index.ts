/** The Fetch gateway: Web-standard `fetch(request) => Response` apps. Import from `tsgi/fetch`. */

export { type FetchGatewayOptions, fetchGateway, fetchHandlerOf } from "./gateway.ts";
export { installLightResponse, LightResponse } from "./light-response.ts";
export { LazyRequest } from "./request.ts";
export { FetchGatewayError, writeResponse } from "./response.ts";
export type { FetchApp, FetchHandler, FetchInfo } from "./types.ts";
export {
  ServerWebSocket,
  type UpgradeWebSocketOptions,
  upgradeWebSocket,
  WebSocketCloseEvent,
  type WebSocketUpgrade,
} from "./websocket.ts";
