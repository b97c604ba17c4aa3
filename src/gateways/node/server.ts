/**
 * `createServer()` of `tsgi/node`: a server with node:http's `Server`
 * surface on a real `net.Server` (so `listen(0)` binds synchronously,
 * `address()`, `_handle`, `'listening'`, `'close'`, EADDRINUSE are node's
 * own) whose connections are tsgi's `HttpConnection`s: tsgi's parser,
 * limits, timeouts, keep-alive and pipelining, with each request emitted as
 * `'request'` (or `'checkContinue'`, or `'upgrade'`) in node's manner.
 */

import { Server as NetServer, type ServerOpts as NetServerOptions, type Socket } from "node:net";
import { type TLSSocket, type TlsOptions, Server as TlsServer } from "node:tls";
import { Clock } from "../../server/clock.ts";
import { type ConnectionAddresses, type ConnectionHost, HttpConnection } from "../../server/connection.ts";
import { Logger } from "../../server/log.ts";
import { resolveOptions, type ServeOptions, type ServerOptions } from "../../server/options.ts";
import { TrustedProxies } from "../../server/proxy-headers.ts";
import { readProxyHeader } from "../../server/proxy-reader.ts";
import { sharedReadsFor } from "../../server/socket-reads.ts";
import { holdTickShape } from "../../server/tick-shape.ts";
import type { Tracer } from "../../server/trace.ts";
import { tracerFor } from "../../server/trace.ts";
import type { WebSocketSession } from "../../server/websocket.ts";
import { emitterGateway, type NodeEmitter } from "./dispatch.ts";
import type { NodeListener } from "./gateway.ts";

/** Options of {@link createServer}: node's `http.createServer` options that apply, plus tsgi's own. */
export interface NodeServerOptions {
  /** tsgi's server settings (timeouts, limits, proxy headers, access log, ...). The access log is off unless set. */
  tsgi?: ServeOptions;
  /** node's `maxHeaderSize`: tsgi's `limits.maxHeaderSize`. */
  maxHeaderSize?: number;
  /** node's `keepAliveTimeout` in ms: tsgi's `keepAliveTimeout`. */
  keepAliveTimeout?: number;
  /** node's `headersTimeout` in ms: tsgi's `headerTimeout`. */
  headersTimeout?: number;
  /** Accepted for node's sake; other node:http options are ignored. */
  [key: string]: unknown;
}

/**
 * The tsgi side shared by {@link Server} and {@link SecureServer}: the
 * connection host (options, logger, the dispatcher), the live connections,
 * the clock that drives their timeouts, and node ≥ 19's close rules.
 */
class ConnectionPool {
  readonly connections = new Set<HttpConnection>();
  readonly host: ConnectionHost;
  readonly clock: Clock;
  /** Peers trusted by `proxyHeaders` and `proxyProtocol` (null when both are off). */
  readonly trusted: TrustedProxies | null;
  closing = false;

  constructor(emitter: NodeEmitter, options: NodeServerOptions) {
    const given: ServeOptions = { accessLog: false, ...options.tsgi };
    if (options.maxHeaderSize !== undefined)
      given.limits = { ...given.limits, maxHeaderSize: options.maxHeaderSize };
    if (options.keepAliveTimeout !== undefined) given.keepAliveTimeout = options.keepAliveTimeout;
    if (options.headersTimeout !== undefined) given.headerTimeout = options.headersTimeout;
    const resolved: ServerOptions = resolveOptions(given);
    const logger = new Logger(resolved.logLevel);
    const tracer: Tracer | null = tracerFor(resolved.trace, logger.errorStream);
    this.trusted =
      resolved.proxyHeaders || resolved.proxyProtocol
        ? TrustedProxies.parse(resolved.forwardedAllowIps)
        : null;
    const connections = this.connections;
    const pool = this;
    this.host = {
      options: resolved,
      logger,
      handler: emitterGateway(emitter),
      get shuttingDown() {
        return pool.closing;
      },
      webSocketCount: 0,
      tracer,
      stats: null,
      proxyTrust: resolved.proxyHeaders ? this.trusted : null,
      sharedReads: sharedReadsFor(resolved.socketReads),
      connectionClosed(connection: HttpConnection) {
        connections.delete(connection);
      },
      connectionUpgraded(connection: HttpConnection, _session: WebSocketSession) {
        connections.delete(connection);
      },
      sessionClosed(_session: WebSocketSession) {},
    };
    this.clock = new Clock(connections);
    emitter.on("listening", () => {
      this.closing = false;
      this.clock.start();
      holdTickShape();
    });
  }

  /** A connection (accepted, or emitted as `'connection'` by other code) served by tsgi. */
  accept(socket: Socket, readProxy: boolean): void {
    if (socket.destroyed) return;
    this.clock.start();
    const options = this.host.options;
    if (readProxy && options.proxyProtocol && this.trusted!.trusts(socket.remoteAddress ?? "")) {
      // A trusted peer says whom it relays in a PROXY header first (as tsgi's own server).
      readProxyHeader(socket, options.headerTimeout, (err, addresses) => {
        if (err === null) this.serve(socket, addresses);
      });
      return;
    }
    this.serve(socket, null);
  }

  private serve(socket: Socket, addresses: ConnectionAddresses | null): void {
    const connection = new HttpConnection(socket, this.host, false, addresses);
    this.connections.add(connection);
    if (socket.isPaused()) socket.resume();
  }

  /** Part of `close()`: idle connections close now, busy ones after their response. */
  shutdown(server: NetServer): void {
    this.closing = true;
    for (const connection of this.connections) connection.shutdown();
    server.once("close", () => {
      if (this.connections.size === 0) this.clock.stop();
    });
  }

  closeIdle(): void {
    for (const connection of this.connections) if (connection.idle) connection.shutdown();
  }

  closeAll(): void {
    for (const connection of this.connections) connection.destroy();
  }
}

/**
 * node:http's `Server`, served by tsgi. Extends `net.Server` (not
 * `http.Server`: its constructor would install node's own HTTP parser on
 * every connection).
 */
export class Server extends NetServer {
  /** Most header fields a request carries to the app (node's; null or 0: all of them). */
  maxHeadersCount: number | null = null;
  /** node's server timeouts, kept for code that reads or sets them; tsgi's own options govern the wire. */
  timeout = 0;
  keepAliveTimeout: number;
  headersTimeout: number;
  requestTimeout = 300_000;
  maxRequestsPerSocket = 0;
  readonly #pool: ConnectionPool;

  constructor(options: NodeServerOptions = {}, listener?: NodeListener) {
    super({ allowHalfOpen: true, noDelay: true } as NetServerOptions, (socket: Socket) =>
      this.#pool.accept(socket, true),
    );
    this.#pool = new ConnectionPool(this, options);
    this.keepAliveTimeout = this.#pool.host.options.keepAliveTimeout;
    this.headersTimeout = this.#pool.host.options.headerTimeout;
    if (listener !== undefined) this.on("request", listener);
  }

  /**
   * node ≥ 19's `close()`: stop accepting, close idle keep-alive
   * connections now; busy ones answer their request with `Connection:
   * close`; `callback` runs on `'close'`, once every connection is gone
   * (with `ERR_SERVER_NOT_RUNNING` if the server was not listening).
   */
  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    this.#pool.shutdown(this);
    return this;
  }

  /** Closes the connections that carry no request now. */
  closeIdleConnections(): void {
    this.#pool.closeIdle();
  }

  /** Drops every connection at once. */
  closeAllConnections(): void {
    this.#pool.closeAll();
  }

  /** node's `server.setTimeout`: kept as `timeout` (tsgi's timeouts govern the wire). */
  setTimeout(ms = 0, callback?: () => void): this {
    this.timeout = ms;
    if (callback !== undefined) this.on("timeout", callback);
    return this;
  }
}

/**
 * node:https's `Server`, served by tsgi: a real `tls.Server` (node does the
 * handshake, `'secureConnection'`), each TLS socket a tsgi connection. Not
 * an `https.Server` by `instanceof` (see docs/interfaces/node.md).
 */
export class SecureServer extends TlsServer {
  maxHeadersCount: number | null = null;
  timeout = 0;
  keepAliveTimeout: number;
  headersTimeout: number;
  requestTimeout = 300_000;
  maxRequestsPerSocket = 0;
  readonly #pool: ConnectionPool;

  constructor(options: NodeServerOptions & TlsOptions = {}, listener?: NodeListener) {
    const { tsgi: _tsgi, maxHeaderSize: _m, keepAliveTimeout: _k, headersTimeout: _h, ...tls } = options;
    super({ ALPNProtocols: ["http/1.1"], ...tls, allowHalfOpen: true } as TlsOptions, (socket: TLSSocket) =>
      this.#pool.accept(socket, false),
    );
    this.#pool = new ConnectionPool(this, options);
    this.keepAliveTimeout = this.#pool.host.options.keepAliveTimeout;
    this.headersTimeout = this.#pool.host.options.headerTimeout;
    if (listener !== undefined) this.on("request", listener);
  }

  /** As {@link Server.close}. */
  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    this.#pool.shutdown(this);
    return this;
  }

  closeIdleConnections(): void {
    this.#pool.closeIdle();
  }

  closeAllConnections(): void {
    this.#pool.closeAll();
  }

  setTimeout(ms = 0, callback?: () => void): this {
    this.timeout = ms;
    if (callback !== undefined) this.on("timeout", callback);
    return this;
  }
}

/**
 * node:https's `createServer`, served by tsgi.
 *
 * @example
 * import { createSecureServer } from "tsgi/node";
 * const server = createSecureServer({ key, cert }, (req, res) => res.end("hi\n"));
 */
export function createSecureServer(listener?: NodeListener): SecureServer;
export function createSecureServer(
  options: NodeServerOptions & TlsOptions,
  listener?: NodeListener,
): SecureServer;
export function createSecureServer(
  options?: (NodeServerOptions & TlsOptions) | NodeListener,
  listener?: NodeListener,
): SecureServer {
  if (typeof options === "function") return new SecureServer({}, options);
  return new SecureServer(options ?? {}, listener);
}

/**
 * node:http's `createServer`, served by tsgi.
 *
 * @example
 * import { createServer } from "tsgi/node";
 * const server = createServer((req, res) => res.end("hi\n"));
 * server.listen(0, () => console.log(server.address()));
 */
export function createServer(listener?: NodeListener): Server;
export function createServer(options: NodeServerOptions, listener?: NodeListener): Server;
export function createServer(options?: NodeServerOptions | NodeListener, listener?: NodeListener): Server {
  if (typeof options === "function") return new Server({}, options);
  return new Server(options ?? {}, listener);
}
