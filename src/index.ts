/**
 * tsgi: a web server for Node.js written from the socket up, hosting apps
 * through gateway interfaces. This is the package's main entry point.
 */

// The ASGI-style essentials; every event type is in `tsgi/asgi` (some names,
// e.g. WebSocketCloseEvent, mean something else in the Fetch interface).
export {
  type ASGIApp,
  ASGIContractError,
  ASGIDisconnectedError,
  ASGILifespan,
  asgiApplication,
  asgiGateway,
  type HTTPScope,
  type LifespanScope,
  type Receive,
  type ReceiveEvent,
  type Scope,
  type Send,
  type SendEvent,
  type WebSocketScope,
} from "./gateways/asgi/index.ts";
export * from "./gateways/fetch/index.ts";
export {
  DEFAULT_LIFESPAN,
  type FetchLifespanHooks,
  type Lifespan,
  LifespanError,
  type LifespanErrorCode,
  type LifespanMode,
  type LifespanOptions,
} from "./gateways/lifespan.ts";
export { type NodeListener, nodeGateway } from "./gateways/node/index.ts";
export {
  buildGateway,
  detectInterface,
  type Gateway,
  type GatewaySettings,
  INTERFACES,
  type Interface,
  NotAnAppError,
} from "./gateways/select.ts";
export * from "./gateways/wsgi/index.ts";
export { InternalError, TsgiError } from "./http1/tsgi-error.ts";
export { type ServeAppOptions, serve } from "./serve.ts";
export type { ConnectionInfo } from "./server/connection-info.ts";
export { ClientGoneError, ExchangeStateError, NotListeningError } from "./server/errors.ts";
export type { BodySink, Exchange } from "./server/exchange.ts";
export { Logger, type LogLevel } from "./server/log.ts";
export { DEFAULT_OPTIONS, type ServeOptions, type ServerOptions, type Timeouts } from "./server/options.ts";
export { type Handler, Server } from "./server/server.ts";
