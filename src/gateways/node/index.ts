/**
 * `tsgi/node`: the node:http-style gateway. `createServer` is node:http's
 * `createServer` served by tsgi; `nodeGateway` turns a `(req, res)`
 * listener into a tsgi handler. See docs/interfaces/node.md.
 */

export { emitterGateway, type NodeEmitter } from "./dispatch.ts";
export { type NodeExchange, type NodeListener, nodeGateway, prepareExchange } from "./gateway.ts";
export { useTsgiServers } from "./install.ts";
export {
  createSecureServer,
  createServer,
  type NodeServerOptions,
  SecureServer,
  Server,
} from "./server.ts";
export { SocketWriteError } from "./socket.ts";
