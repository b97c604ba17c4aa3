/**
 * The listening server: accepts connections on `node:net` (the event loop is
 * our selector) on every bound address, reads a PROXY protocol header and
 * wraps TLS when configured, hands each connection to an `HttpConnection`,
 * runs the shared clock, and shuts down gracefully.
 */

import cluster from "node:cluster";
import { type AddressInfo, createServer, type Server as NetServer, type Socket } from "node:net";
import type { TLSSocket, Server as TlsServer } from "node:tls";
import { Clock } from "./clock.ts";
import { type ConnectionAddresses, HttpConnection, type RequestHandler } from "./connection.ts";
import { DetachedSocket } from "./detached.ts";
import { NotListeningError } from "./errors.ts";
import type { Exchange } from "./exchange.ts";
import {
  type BindTarget,
  clearStaleSocket,
  describeAddress,
  formatBind,
  listenOn,
  parseBind,
} from "./listen.ts";
import { Logger } from "./log.ts";
import type { RequestStats } from "./metrics.ts";
import { resolveOptions, type ServeOptions, type ServerOptions } from "./options.ts";
import { TrustedProxies } from "./proxy-headers.ts";
import type { readProxyHeader } from "./proxy-reader.ts";
import { type SharedReads, sharedReadsFor } from "./socket-reads.ts";
import { holdTickShape } from "./tick-shape.ts";
import { type Tracer, tracerFor } from "./trace.ts";
import type { WebSocketSession } from "./websocket.ts";

/** The gateway entry point: called once for each request head (see {@link RequestHandler}). */
export type Handler = RequestHandler;

/**
 * `outer`, a handler that calls `inner` for some requests, with `inner`'s
 * {@link RequestHandler.acceptsConnect} so that wrapping keeps CONNECT
 * reaching a gateway that can tunnel.
 */
export function wrapHandler(inner: Handler, outer: (exchange: Exchange) => void): Handler {
  const accepts = inner.acceptsConnect;
  return accepts === undefined ? outer : Object.assign(outer, { acceptsConnect: accepts });
}

/** An open connection of either protocol, as the server manages it. */
type Live = HttpConnection | WebSocketSession | DetachedSocket;

/** A running tsgi server. */
export class Server {
  /** The resolved options. */
  readonly options: ServerOptions;
  readonly logger: Logger;
  readonly handler: Handler;
  /** The `--trace` writer, or null when tracing is off. */
  readonly tracer: Tracer | null;
  /** The read buffer every connection shares (socket-reads.ts); null when sockets are read as streams. */
  readonly sharedReads: SharedReads | null;
  /** One listening socket per bound address, in `targets` order. */
  private readonly listeners: NetServer[] = [];
  /** Where to listen: `options.bind`, or `host`:`port`. */
  private readonly targets: readonly BindTarget[];
  /** Wraps accepted sockets in TLS when `options.tls` is set (never listens itself). */
  private tlsServer: TlsServer | null = null;
  /** The PROXY protocol reader, imported by listen() when `options.proxyProtocol` is set. */
  private readProxyHeader: typeof readProxyHeader | null = null;
  /** PROXY protocol addresses of raw sockets waiting for their TLS handshake. */
  private readonly proxied = new WeakMap<Socket, ConnectionAddresses>();
  /** Peers trusted by `proxyHeaders` and `proxyProtocol` (null when both are off). */
  private readonly trusted: TrustedProxies | null;
  /**
   * Counters for `--metrics` (see metrics.ts); null counts nothing. Set it
   * before `listen()`.
   */
  stats: RequestStats | null = null;
  private readonly connections = new Set<Live>();
  private webSockets = 0;
  /** Connections accepted over `limitConcurrency` and not closed yet (they only get a 503). */
  private overloaded = 0;
  private readonly clock: Clock;
  private closing: Promise<void> | null = null;
  /** During a close: ends it once nothing is left (and the app's `afterDrain` has finished). */
  private allClosed: (() => void) | null = null;
  /** During a close with an `afterDrain`: starts it once only detached sockets are left. */
  private httpDrained: (() => void) | null = null;
  /** How many of {@link connections} are sockets the app took over. */
  private detachedCount = 0;

  constructor(handler: Handler, options: ServeOptions = {}, logger?: Logger) {
    this.options = resolveOptions(options);
    this.logger = logger ?? new Logger(this.options.logLevel);
    this.handler = handler;
    this.tracer = tracerFor(this.options.trace, this.logger.errorStream);
    this.sharedReads = sharedReadsFor(this.options.socketReads);
    this.clock = new Clock(this.connections);
    const o = this.options;
    this.targets = o.bind.length > 0 ? o.bind.map(parseBind) : [{ kind: "tcp", host: o.host, port: o.port }];
    this.trusted = o.proxyHeaders || o.proxyProtocol ? TrustedProxies.parse(o.forwardedAllowIps) : null;
  }

  /** @internal With `proxyHeaders`: whose forwarding headers connections believe. */
  get proxyTrust(): TrustedProxies | null {
    return this.options.proxyHeaders ? this.trusted : null;
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

  /** The first bound TCP address (after `listen()`). */
  get address(): AddressInfo {
    for (const listener of this.listeners) {
      const address = listener.address();
      if (address !== null && typeof address !== "string") return address;
    }
    throw new NotListeningError("server is not listening on TCP");
  }

  /** The base URL clients use, e.g. `http://127.0.0.1:8000` (the first of {@link urls}). */
  get url(): string {
    const first = this.urls[0];
    if (first === undefined) throw new NotListeningError("server is not listening");
    return first;
  }

  /**
   * What each bound address is reached at, in bind order: `http://HOST:PORT`
   * (`https://` with TLS) for TCP, `unix:PATH` for a unix socket.
   */
  get urls(): string[] {
    const tls = this.options.tls !== null;
    return this.listeners.map((l, i) => describeAddress(l.address(), tls, formatBind(this.targets[i]!)));
  }

  /**
   * Binds every address and starts accepting. Rejects with a `BindError`
   * (`reason` says EADDRINUSE, EACCES, ...) or a `TlsConfigError`, with
   * nothing left listening.
   */
  async listen(): Promise<void> {
    const o = this.options;
    // TLS and the PROXY protocol are imported only when configured: every module
    // loaded costs memory for the life of the process (docs/performance.md).
    if (o.proxyProtocol) this.readProxyHeader = (await import("./proxy-reader.ts")).readProxyHeader;
    if (o.tls !== null) {
      const { createTlsServer } = await import("./tls.ts");
      const tls = createTlsServer(o.tls, o.headerTimeout);
      tls.on("secureConnection", (socket: TLSSocket) => {
        const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
        this.accept(socket, raw === undefined ? null : (this.proxied.get(raw) ?? null));
      });
      // A failed handshake (a plain-HTTP client, an unknown CA, a scanner)
      // is the client's problem: not worth more than a debug line.
      tls.on("tlsClientError", (err, socket) => {
        this.logger.debug(
          `TLS handshake with ${socket.remoteAddress ?? "a unix peer"} failed: ${err.message}`,
        );
      });
      this.tlsServer = tls;
    }
    try {
      for (const target of this.targets) {
        // In a --workers worker the supervisor binds (node:cluster) and has
        // already cleared a stale file; probing from here would reach it.
        if (target.kind === "unix" && !cluster.isWorker) await clearStaleSocket(target.path);
        const listener = createServer({ allowHalfOpen: true, noDelay: true }, (socket) =>
          this.onSocket(socket),
        );
        await listenOn(listener, target, o.udsMode);
        listener.on("error", (err) => this.logger.error("listener error", err));
        this.listeners.push(listener);
      }
    } catch (err) {
      for (const listener of this.listeners) listener.close();
      this.listeners.length = 0;
      throw err;
    }
    this.clock.start();
    holdTickShape();
  }

  /**
   * Graceful shutdown: stop accepting, close idle connections now, let
   * in-flight requests finish (answered with `Connection: close`), and after
   * `timeoutMs` (default `gracefulTimeout`) close whatever is left.
   *
   * `idleGraceMs` keeps idle connections open that long, so a request already
   * on its way is answered (with `Connection: close`) rather than lost with
   * the connection. A `--workers` worker stopping for a reload uses it: the
   * supervisor may have handed it a connection just before the stop, and a
   * keep-alive client may be sending on a connection that looked idle (Go's
   * `Server.Shutdown` gives new connections 5 s).
   *
   * `afterDrain` (the app's shutdown) runs once the HTTP connections and
   * WebSockets are gone: sockets the app took over (`'upgrade'`) are still
   * open then, so the app can close them itself (engine.io does on its
   * server's `'close'`); whatever is left at `timeoutMs` is destroyed. The
   * close resolves when everything is closed and `afterDrain` has finished,
   * and rejects with `afterDrain`'s error.
   */
  close(
    timeoutMs = this.options.gracefulTimeout,
    idleGraceMs = 0,
    afterDrain?: () => Promise<void>,
  ): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = new Promise<void>((resolve, reject) => {
      // Closing a listener bound to a unix path also removes the socket file.
      for (const listener of this.listeners) listener.close();
      let appDone = afterDrain === undefined;
      let failure: { err: unknown } | null = null;
      const finish = () => {
        if (!appDone || this.connections.size > 0 || this.allClosed === null) return;
        this.allClosed = null;
        clearTimeout(force);
        this.clock.stop();
        this.logger.flush();
        if (failure === null) resolve();
        else reject(failure.err);
      };
      const force = setTimeout(() => {
        for (const connection of this.connections) connection.destroy();
      }, timeoutMs);
      this.allClosed = finish;
      this.httpDrained =
        afterDrain === undefined
          ? null
          : () => {
              afterDrain()
                .catch((err: unknown) => {
                  failure = { err };
                })
                .finally(() => {
                  appDone = true;
                  finish();
                });
            };
      for (const connection of this.connections) {
        if (connection instanceof HttpConnection) connection.shutdown(idleGraceMs > 0);
        else connection.shutdown();
      }
      if (idleGraceMs > 0) {
        const grace = setTimeout(() => {
          for (const connection of this.connections) {
            if (connection instanceof HttpConnection) connection.shutdown();
          }
        }, idleGraceMs);
        grace.unref();
      }
      this.checkDrained();
    });
    return this.closing;
  }

  /**
   * During a close: once only sockets the app took over are left, the app's
   * `afterDrain` runs (so a node-style app hears `'close'` and closes its
   * WebSockets); once nothing is left and it has finished, the close ends.
   */
  private checkDrained(): void {
    if (this.httpDrained !== null && this.connections.size === this.detachedCount) {
      const drained = this.httpDrained;
      this.httpDrained = null;
      drained();
    }
    if (this.connections.size === 0) this.allClosed?.();
  }

  /** @internal */
  connectionUpgraded(connection: HttpConnection, session: WebSocketSession): void {
    this.connections.delete(connection);
    this.connections.add(session);
    this.webSockets++;
    // Shutting down already: the new WebSocket is told at once.
    if (this.closing !== null) session.shutdown();
  }

  /**
   * @internal The app took the connection's socket: a close still waits for
   * it (node's `server.close()` waits for upgraded sockets), after the app's
   * `afterDrain`, until the graceful timeout.
   */
  connectionDetached(connection: HttpConnection, socket: Socket): void {
    // Added before the connection leaves, so a drain in progress never sees zero in between.
    this.connections.add(new DetachedSocket(socket, (detached) => this.connectionClosed(detached)));
    this.detachedCount++;
    this.connectionClosed(connection);
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
    if (this.connections.delete(connection) && connection instanceof DetachedSocket) this.detachedCount--;
    this.checkDrained();
  }

  /** A new TCP or unix connection: the PROXY header first if expected, then TLS, then HTTP. */
  private onSocket(socket: Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    // Only a trusted peer may say whom it relays; any other connection is
    // served as plain HTTP, so a client cannot pick its address with a header.
    if (this.options.proxyProtocol && this.trusted!.trusts(socket.remoteAddress ?? "")) {
      this.readProxyHeader!(socket, this.options.headerTimeout, (err, addresses) => {
        if (err !== null) {
          this.logger.debug(
            `closed a connection from ${socket.remoteAddress ?? "a unix peer"}: ${err.message}`,
          );
          return;
        }
        this.secure(socket, addresses);
      });
      return;
    }
    this.secure(socket, null);
  }

  private secure(socket: Socket, addresses: ConnectionAddresses | null): void {
    if (this.tlsServer === null) {
      this.accept(socket, addresses);
      return;
    }
    if (addresses !== null) this.proxied.set(socket, addresses);
    this.tlsServer.emit("connection", socket);
  }

  private accept(socket: Socket, addresses: ConnectionAddresses | null = null): void {
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
    this.stats?.track(socket);
    this.connections.add(new HttpConnection(socket, this, over, addresses));
    // Paused by the PROXY header reader (with its leftover bytes unshifted).
    if (socket.isPaused()) socket.resume();
  }
}
