/**
 * The programmatic entry point: `serve(app, options)` starts a server for an
 * app of any supported interface and resolves once it is listening.
 */

import { type GatewaySettings, gatewayFor, type Interface } from "./gateways/select.ts";
import { Logger } from "./server/log.ts";
import { resolveOptions, type ServeOptions } from "./server/options.ts";
import { Server } from "./server/server.ts";

/** Options of {@link serve}: server options plus the interface. */
export interface ServeAppOptions extends ServeOptions, GatewaySettings {
  /** Which gateway to use; "auto" decides from the app's shape. Default "auto". */
  interface?: Interface;
  /** Logger to use instead of one writing to stderr/stdout. */
  logger?: Logger;
}

/**
 * Serves `app` and resolves with the running {@link Server} once it listens.
 *
 * @example
 * import { serve } from "tsgi";
 * const server = await serve((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return ["hello\n"];
 * }, { port: 0 });
 * console.log(server.url);
 * await server.close();
 */
export async function serve(app: unknown, options: ServeAppOptions = {}): Promise<Server> {
  const { interface: iface = "auto", logger: givenLogger, lightResponse, ...rest } = options;
  const logger = givenLogger ?? new Logger(resolveOptions(rest).logLevel);
  const server = new Server(gatewayFor(app, iface, logger, { lightResponse }), rest, logger);
  await server.listen();
  return server;
}
