/**
 * The programmatic entry point: `serve(app, options)` starts a server for an
 * app of any supported interface and resolves once it is listening. The
 * app's lifespan wraps the server: startup completes before it listens,
 * shutdown runs after `close()` has closed every connection.
 */

import type { Lifespan } from "./gateways/lifespan.ts";
import { buildGateway, type GatewaySettings, type Interface } from "./gateways/select.ts";
import { Logger } from "./server/log.ts";
import { resolveOptions, type ServeOptions } from "./server/options.ts";
import { type Handler, Server } from "./server/server.ts";

/** A server whose close() ends with the app's lifespan shutdown. */
class LifespanServer extends Server {
  private stopping: Promise<void> | null = null;

  constructor(
    handler: Handler,
    options: ServeOptions,
    logger: Logger,
    private readonly lifespan: Lifespan,
  ) {
    super(handler, options, logger);
  }

  /** Graceful close, then the app's shutdown; rejects with a LifespanError if shutdown failed. */
  override close(timeoutMs?: number, idleGraceMs = 0): Promise<void> {
    this.stopping ??= super.close(timeoutMs, idleGraceMs, () => this.lifespan.shutdown());
    return this.stopping;
  }
}

/** Options of {@link serve}: server options plus the interface. */
export interface ServeAppOptions extends ServeOptions, GatewaySettings {
  /** Which gateway to use; "auto" decides from the app's shape. Default "auto". */
  interface?: Interface;
  /** Logger to use instead of one writing to stderr/stdout. */
  logger?: Logger;
}

/**
 * Serves `app` and resolves with the running {@link Server} once it listens.
 * An app with a lifespan (ASGI-style, or a Fetch app with `startup()`) has
 * completed its startup by then; a failed startup rejects with a
 * `LifespanError` and nothing listens. `close()` runs the app's shutdown last.
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
  const {
    interface: iface = "auto",
    logger: givenLogger,
    lightResponse,
    lifespan: mode,
    startupTimeout,
    shutdownTimeout,
    ...rest
  } = options;
  const logger = givenLogger ?? new Logger(resolveOptions(rest).logLevel);
  const { handler, lifespan } = buildGateway(app, iface, logger, {
    lightResponse,
    lifespan: mode,
    startupTimeout,
    shutdownTimeout,
  });
  if (lifespan === null) {
    const server = new Server(handler, rest, logger);
    await server.listen();
    return server;
  }
  await lifespan.startup();
  const server = new LifespanServer(handler, rest, logger, lifespan);
  try {
    await server.listen();
  } catch (err) {
    // Started but cannot serve: give the app its shutdown before reporting.
    await lifespan.shutdown().catch((e: unknown) => logger.error("application shutdown failed", e));
    throw err;
  }
  try {
    lifespan.listening?.(server);
  } catch (err) {
    // close() runs the shutdown too; the error to report is this one.
    await server.close(0).catch((e: unknown) => logger.error("application shutdown failed", e));
    throw err;
  }
  return server;
}
