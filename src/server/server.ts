/**
 * The listening server: accepts connections on `node:net` (the event loop is
 * our selector), hands each to an `HttpConnection`, runs the shared clock,
 * and shuts down gracefully.
 */

import { type AddressInfo, createServer, type Server as NetServer, type Socket } from "node:net";
import { Clock } from "./clock.ts";
import { HttpConnection } from "./connection.ts";
import type { Exchange } from "./exchange.ts";
import { Logger } from "./log.ts";
import { resolveOptions, type ServeOptions, type ServerOptions } from "./options.ts";
import { type Tracer, tracerFor } from "./trace.ts";
import type { WebSocketSession } from "./websocket.ts";

/** The gateway entry point: called once for each request head. */
export type Handler = (exchange: Exchange) => void;

/** An open connection of either protocol, as the server manages it. */
type Live = HttpConnection | WebSocketSession;

/** A running tsgi server. */
export class Server {
  /** The resolved options. */
  readonly options: ServerOptions;
  readonly logger: Logger;
  readonly handler: Handler;
  /** The `--trace` writer, or null when tracing is off. */
  readonly tracer: Tracer | null;
  private readonly net: NetServer;
  private readonly connections = new Set<Live>();
  private webSockets = 0;
  /** Connections accepted over `limitConcurrency` and not closed yet (they only get a 503). */
  private overloaded = 0;
  private readonly clock: Clock;
  private closing: Promise<void> | null = null;
  private allClosed: (() => void) | null = null;

  constructor(handler: Handler, options: ServeOptions = {}, logger?: Logger) {
    this.options = resolveOptions(options);
    this.logger = logger ?? new Logger(this.options.logLevel);
    this.handler = handler;
    this.tracer = tracerFor(this.options.trace, this.logger.errorStream);
    this.clock = new Clock(this.connections);
    this.net = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
  }

  /** True once `close()` was called. */
  get shuttingDown(): boolean {
    return this.closing !== null;
  }

  /** Open connections right now (HTTP and WebSocket). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Open WebSockets right now. */
  get webSocketCount(): number {
    return this.webSockets;
  }

  /** The bound address (after `listen()`). */
  get address(): AddressInfo {
    const address = this.net.address();
    if (address === null || typeof address === "string") throw new Error("server is not listening on TCP");
    return address;
  }

  /** The base URL clients use, e.g. `http://127.0.0.1:8000`. */
  get url(): string {
    const { address, port, family } = this.address;
    return `http://${family === "IPv6" ? `[${address}]` : address}:${port}`;
  }

  /** Binds and starts accepting. Rejects with the system error (e.g. EADDRINUSE). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.net.once("error", onError);
      this.net.listen({ host: this.options.host, port: this.options.port }, () => {
        this.net.off("error", onError);
        this.net.on("error", (err) => this.logger.error("listener error", err));
        this.clock.start();
        resolve(this.address);
      });
    });
  }

  /**
   * Graceful shutdown: stop accepting, close idle connections now, let
   * in-flight requests finish (answered with `Connection: close`), and after
   * `timeoutMs` (default `gracefulTimeout`) close whatever is left.
   */
  close(timeoutMs = this.options.gracefulTimeout): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      this.net.close();
      const done = () => {
        clearTimeout(force);
        this.clock.stop();
        this.logger.flush();
        resolve();
      };
      const force = setTimeout(() => {
        for (const connection of this.connections) connection.destroy();
      }, timeoutMs);
      this.allClosed = done;
      for (const connection of this.connections) connection.shutdown();
      if (this.connections.size === 0) done();
    });
    return this.closing;
  }

  /** @internal */
  connectionUpgraded(connection: HttpConnection, session: WebSocketSession): void {
    this.connections.delete(connection);
    this.connections.add(session);
    this.webSockets++;
    // Shutting down already: the new WebSocket is told at once.
    if (this.closing !== null) session.shutdown();
  }

  /** @internal */
  sessionClosed(session: WebSocketSession): void {
    if (this.connections.has(session)) this.webSockets--;
    this.connectionClosed(session);
  }

  /** @internal */
  connectionClosed(connection: Live): void {
    if (connection instanceof HttpConnection && connection.overloaded && this.connections.has(connection)) {
      this.overloaded--;
    }
    this.connections.delete(connection);
    if (this.connections.size === 0 && this.allClosed !== null) {
      const done = this.allClosed;
      this.allClosed = null;
      done();
    }
  }

  private accept(socket: Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    // uvicorn's --limit-concurrency: past the limit a connection is still
    // accepted and read, but its request is answered 503 and it is closed, so
    // the client learns why (a refused or reset connection says nothing). It
    // holds a socket only for its header timeout and the lingering close.
    const limit = this.options.limitConcurrency;
    const over = limit > 0 && this.connections.size - this.overloaded >= limit;
    if (over) this.overloaded++;
    this.connections.add(new HttpConnection(socket, this, over));
  }
}
