/**
 * tsgi: a web server for Node.js written from the socket up, hosting apps
 * through gateway interfaces. This is the package's main entry point.
 */

export * from "./gateways/fetch/index.ts";
export { detectInterface, INTERFACES, type Interface, NotAnAppError } from "./gateways/select.ts";
export * from "./gateways/wsgi/index.ts";
export { type ServeAppOptions, serve } from "./serve.ts";
export type { BodySink, ConnectionInfo, Exchange } from "./server/exchange.ts";
export { Logger, type LogLevel } from "./server/log.ts";
export { DEFAULT_OPTIONS, type ServeOptions, type ServerOptions, type Timeouts } from "./server/options.ts";
export { type Handler, Server } from "./server/server.ts";
