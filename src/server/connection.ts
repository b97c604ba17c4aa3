/**
 * Drives one sans-IO `ServerConnection` over a `net.Socket`: feeds it the
 * bytes read, writes the bytes it returns, and owns everything with a clock
 * or a socket in it: flow control in both directions, timeouts, draining an
 * unread body, lingering close, and the exchanges handed to the gateway.
 */

import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { ServerConnection } from "../http1/connection.ts";
import { ProtocolError, RemoteProtocolError } from "../http1/errors.ts";
import { NEED_DATA, PAUSED, type RequestHead, type ResponseHead } from "../http1/events.ts";
import { InternalError } from "../http1/tsgi-error.ts";
import type { HandshakeRequest } from "../websocket/handshake.ts";
import { type Expirable, httpDate } from "./clock.ts";
import type { ConnectionInfo } from "./connection-info.ts";
import { type ConnectionPhase, checkTransition } from "./connection-phase.ts";
import { type DetachedSocket, Exchange, type ExchangeOwner, type ExchangeRecords } from "./exchange.ts";
import type { Logger } from "./log.ts";
import type { RequestStats } from "./metrics.ts";
import type { ServerOptions } from "./options.ts";
import { applyProxyHeaders, type TrustedProxies } from "./proxy-headers.ts";
import { type ChunkListener, releaseSharedReads, type SharedReads } from "./socket-reads.ts";
import { describeAfterResponse, describeRequest, describeResponseHead, type Tracer } from "./trace.ts";
import type { WebSocketAccept, WebSocketSession } from "./websocket.ts";
import { loadWebSocketStack, webSocketStack } from "./websocket-loader.ts";
import { checkUpgrade } from "./websocket-upgrade.ts";

/** Addresses that replace the socket's own (from a PROXY protocol header). */
export interface ConnectionAddresses {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/** The gateway entry point: called once per request head. */
export interface RequestHandler {
  (exchange: Exchange): void;
  /**
   * Asked for each well-formed CONNECT request: true hands it to the handler,
   * which then owns the tunnel (it takes the socket with
   * `Exchange.detachSocket`, or answers); absent or false, the request gets
   * 501 `TSGI_ERR_CONNECT_NOT_IMPLEMENTED` without the handler being called
   * (docs/http-conformance.md#connect). Wrappers keep it (see `wrapHandler`).
   */
  readonly acceptsConnect?: (request: RequestHead) => boolean;
}

/** What a connection needs from its server (which also accounts for its exchanges). */
export interface ConnectionHost extends ExchangeRecords {
  readonly options: ServerOptions;
  readonly logger: Logger;
  /** The gateway entry point: called once per request head. */
  readonly handler: RequestHandler;
  /** True once a graceful shutdown began. */
  readonly shuttingDown: boolean;
  /** WebSockets open right now. */
  readonly webSocketCount: number;
  /** The `--trace` writer, or null when tracing is off. */
  readonly tracer: Tracer | null;
  /** With `--metrics`: the counters each completed response bumps; else null or absent. */
  readonly stats?: RequestStats | null;
  /** With `--proxy-headers`: the peers whose forwarding headers are believed; else null. */
  readonly proxyTrust: TrustedProxies | null;
  connectionClosed(connection: HttpConnection): void;
  /** The connection switched to WebSocket: `session` owns the socket from now on. */
  connectionUpgraded(connection: HttpConnection, session: WebSocketSession): void;
  sessionClosed(session: WebSocketSession): void;
  /** The read buffer connections share (socket-reads.ts); null or absent: `'data'` events. */
  readonly sharedReads?: SharedReads | null;
  /** The app took the socket (absent: treated as {@link connectionClosed}). */
  connectionDetached?(connection: HttpConnection, socket: Socket): void;
}

const INTERNAL_ERROR = Buffer.from("500 Internal Server Error\n", "latin1");
const OVERLOADED = Buffer.from("503 Service Unavailable: too many connections\n", "latin1");
const OVERLOADED_HEADERS = ["Content-Type", "text/plain; charset=utf-8", "Retry-After", "1"];

/**
 * One client connection.
 *
 * Besides its {@link ConnectionPhase}, three flags that are not phases, each
 * with its invariant: `pumping` is true only inside `pump()` (an app that
 * answers synchronously re-enters it); `corked` is true from the first
 * gathered write of an event-loop turn until the `process.nextTick` that
 * flushes it (one `socket.uncork()` per `socket.cork()`);
 * `readingPaused` mirrors what we last told the socket and is false while
 * `closing` (a lingering close keeps reading).
 */
export class HttpConnection implements ExchangeOwner, Expirable {
  /** Epoch ms at which {@link expire} runs; 0 for none. Checked by the server's clock. */
  deadline = 0;

  private readonly core: ServerConnection;
  private readonly options: ServerOptions;
  private readonly info: ConnectionInfo;
  /** See {@link ConnectionPhase}; changed only by `enter()`. */
  private phase: ConnectionPhase = "open";
  /** The exchange in progress; only ever set while `open`. */
  private exchange: Exchange | null = null;
  /** Body bytes dropped so far while `discarding`. */
  private discarded = 0;
  private drainCallback: (() => void) | null = null;
  /** The deadline write() armed when the socket buffer filled; cleared on 'drain'. */
  private sendDeadline = 0;
  private readingPaused = false;
  private pumping = false;
  /**
   * Epoch ms at which the read being handled arrived; 0 outside `onData`.
   * Every deadline set while handling one read (16 pipelined requests set
   * about 32) counts from this one clock read instead of a `Date.now()` each.
   */
  private readAt = 0;
  /** An upgrade request waiting for the WebSocket machinery to load (see holdForWebSocket). */
  private heldRequest: RequestHead | null = null;
  /** The socket is corked to gather this turn's writes into one; see {@link gather}. */
  private corked = false;
  /**
   * Whole responses of this turn that came back from the core as strings
   * (head and body), joined for the turn's flush: pipelined requests
   * answered in one turn go out as one string write instead of a `writev`
   * of one string per response. Every other write flushes it first (see {@link write}).
   */
  private pendingText = "";
  /** Every response in {@link pendingText} is ASCII, so it is written as Latin-1 (ServerConnection.lastTextAscii). */
  private pendingAscii = true;
  /** A flush is queued for the end of this turn (see queueFlush). */
  private flushQueued = false;
  private readonly flushTick = (): void => {
    // An exchange still in progress may be answered by ticks queued after
    // this one (the node:http-style gateway calls a pipelined request's app
    // after the previous response's 'finish' and 'close' ticks), or by a
    // microtask queued before this one (an async handler). Node runs every
    // queued tick, including those queued meanwhile, before the microtasks
    // (processTicksAndRejections): flushing in a microtask waits for both.
    if (this.exchange !== null) queueMicrotask(this.flushTurn);
    else this.flushTurn();
  };
  private readonly flushTurn = (): void => {
    this.flushQueued = false;
    this.flush();
  };
  /** Writes {@link pendingText} and undoes {@link gather}'s cork: the turn's writes go out as one `write` or `writev`. */
  private readonly flush = (): void => {
    if (this.pendingText !== "") this.writeText();
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  };
  private readonly tracer: Tracer | null;
  /** Connection number in the trace (0 when tracing is off). */
  private readonly traceId: number;
  /** When the socket buffer filled, for the trace's "drain after N ms". */
  private blockedAt = 0;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
    /** Accepted over `limitConcurrency`: its request gets 503 and the connection closes. */
    readonly overloaded = false,
    /** The client's and our addresses as a PROXY protocol header gave them, instead of the socket's. */
    addresses: ConnectionAddresses | null = null,
  ) {
    this.options = host.options;
    this.core = new ServerConnection({
      limits: host.options.limits,
      serverHeader: host.options.serverHeader,
      date: httpDate,
      // Decided per request: a node:http-style emitter may gain or lose its 'connect' listener.
      acceptConnect: (request) => host.handler.acceptsConnect?.(request) === true,
    });
    this.info = {
      remoteAddress: addresses?.remoteAddress ?? socket.remoteAddress ?? "",
      remotePort: addresses?.remotePort ?? socket.remotePort ?? 0,
      localAddress: addresses?.localAddress ?? socket.localAddress ?? "",
      localPort: addresses?.localPort ?? socket.localPort ?? 0,
      tls: (socket as TLSSocket).encrypted === true,
    };
    this.tracer = host.tracer;
    this.traceId = this.tracer === null ? 0 : this.tracer.nextId();
    if (this.tracer !== null) {
      const i = this.info;
      this.trace(
        "accept",
        `connection from ${i.remoteAddress}:${i.remotePort} to ${i.localAddress}:${i.localPort}`,
      );
    }
    this.setDeadline(this.options.headerTimeout);
    this.listeners = {
      data: (chunk: Buffer) => this.onData(chunk),
      end: () => this.onEnd(),
      drain: () => this.onDrain(),
      error: (err: NodeJS.ErrnoException) => this.onSocketError(err),
      close: () => this.onClose(),
    };
    // Reads land in the server's shared buffer where they can (socket-reads.ts), else come as 'data'.
    const shared = host.sharedReads?.attach(socket, this.listeners.data as ChunkListener) === true;
    for (const [event, listener] of Object.entries(this.listeners)) {
      if (event !== "data" || !shared) socket.on(event, listener);
    }
  }

  /** Our socket listeners, kept so {@link detachSocket} removes exactly these. */
  private readonly listeners: Record<string, (arg: Buffer & NodeJS.ErrnoException) => void>;

  /** No request is in progress and no byte of the next one has arrived. */
  get idle(): boolean {
    return this.exchange === null && this.phase !== "discarding" && this.core.idle;
  }

  /**
   * Part of a graceful shutdown: an idle connection is closed now; a busy one
   * answers its current request with `Connection: close` and closes after it.
   * With `keepIdle`, an idle connection (not used yet, or between keep-alive
   * requests) is left open for its next request, answered with `Connection:
   * close`: its client may be sending that request right now, and closing
   * under it loses the request (RFC 9112 §9.3.1). The server closes it later
   * if none comes.
   */
  shutdown(keepIdle = false): void {
    this.core.closeAfterResponse();
    if (this.idle && !keepIdle) this.closeGracefully("server shutting down");
  }

  /** @internal What the connection is doing now (for tests and the trace). */
  get currentPhase(): ConnectionPhase {
    return this.phase;
  }

  /** Closes the socket at once, whatever is in flight. */
  destroy(): void {
    this.abort("forced close");
  }

  // ---- socket events ------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.tracer !== null) this.traceRead(chunk);
    if (this.phase === "closing") return; // lingering close: read and drop
    const startsRequest = this.exchange === null && this.phase !== "discarding" && this.core.idle;
    try {
      this.core.receiveData(chunk);
    } catch (err) {
      this.onProtocolError(err);
      return;
    }
    this.readAt = Date.now();
    try {
      if (startsRequest) this.setDeadline(this.options.headerTimeout);
      this.pump();
    } finally {
      this.readAt = 0;
    }
  }

  private onEnd(): void {
    // While closing, the socket destroys itself once our queued bytes are
    // flushed too (autoDestroy); destroying it here would drop them.
    if (this.phase === "closing") return;
    this.core.receiveEOF();
    const ex = this.exchange;
    if (ex !== null && !ex.finished && !ex.bodyDone) {
      // Closed in the middle of the body: the request can never complete (400 if nothing was sent yet).
      this.onProtocolError(
        new RemoteProtocolError(
          "connection closed in the middle of a request body",
          "TSGI_ERR_INCOMPLETE_MESSAGE",
          400,
        ),
      );
      return;
    }
    if (ex !== null && !ex.finished) {
      // Like Node's http server and uvicorn, a client that closes its side
      // before its response is complete counts as gone. The app is told
      // (request.signal, result.close(), a body read that fails), what was
      // written still flushes, and the connection closes.
      this.exchange = null;
      ex.abandon(null);
      this.closeGracefully("the client closed its side before the response was complete");
      return;
    }
    this.pump();
  }

  private onDrain(): void {
    if (this.tracer !== null && this.blockedAt !== 0) {
      this.trace(
        "drain",
        `socket buffer flushed after ${(performance.now() - this.blockedAt).toFixed(1)} ms`,
      );
      this.blockedAt = 0;
    }
    if (this.phase === "draining") {
      this.enter("open");
      this.startNextRequest();
    }
    const callback = this.drainCallback;
    if (callback !== null) {
      this.drainCallback = null;
      this.deadline = 0;
      callback();
    } else if (this.phase !== "closing" && this.sendDeadline !== 0 && this.deadline === this.sendDeadline) {
      // write() armed the send timeout for a full buffer that has now flushed:
      // the client is reading, so the timeout is over even if nobody waits for 'drain'.
      this.deadline = 0;
    }
    this.sendDeadline = 0;
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    // Resets and broken pipes are the client's business, not an operator's.
    const quiet = err.code === "ECONNRESET" || err.code === "EPIPE" || err.code === "ETIMEDOUT";
    this.host.logger.log(quiet ? "debug" : "warning", `connection ${this.peer()}: ${err.message}`);
  }

  private onClose(): void {
    if (this.phase === "closed") return;
    const ex = this.exchange;
    this.exchange = null;
    this.enter("closed");
    if (this.tracer !== null) this.trace("closed", "socket closed");
    this.deadline = 0;
    if (ex !== null && !ex.finished) ex.abandon(null);
    this.host.connectionClosed(this);
  }

  // ---- the parse loop -----------------------------------------------------

  /** Turns buffered bytes into events for as long as someone wants them. */
  private pump(): void {
    if (this.pumping || this.phase === "closed") return;
    this.pumping = true;
    try {
      this.pumpEvents();
    } finally {
      this.pumping = false;
    }
    this.updateReading();
  }

  private pumpEvents(): void {
    const core = this.core;
    for (;;) {
      // fail() and a cut-short end() destroy the socket and drop the exchange from
      // inside the handler; the parser may still hold that request's "end" event.
      const phase = this.phase;
      if ((phase !== "open" && phase !== "discarding") || this.socket.destroyed) return;
      if (this.heldRequest !== null) return;
      const ex = this.exchange;
      if (ex !== null) {
        // Body events wait in the parser until the gateway asks for them.
        if (core.theirState !== "SEND_BODY" || !ex.bodyFlowing) return;
      }
      let event: ReturnType<ServerConnection["nextEvent"]>;
      try {
        event = core.nextEvent();
      } catch (err) {
        this.onProtocolError(err);
        return;
      }
      if (event === NEED_DATA) {
        if (ex?.bodyRequested) this.setDeadline(this.options.bodyTimeout);
        return;
      }
      if (event === PAUSED) return;
      switch (event.type) {
        case "request":
          if (event.upgrade !== "" && webSocketStack() === null && event.upgrade.includes("websocket")) {
            this.holdForWebSocket(event);
            return;
          }
          this.startExchange(event);
          break;
        case "data":
          if (phase === "discarding") {
            this.discarded += event.data.length;
            if (this.discarded > this.options.maxDrainSize) {
              this.closeGracefully("unread request body over maxDrainSize");
              return;
            }
          } else {
            this.setDeadline(this.options.bodyTimeout);
            ex!.receiveData(event.data);
          }
          break;
        case "end":
          if (phase === "discarding") {
            this.enter("open");
            this.nextCycle();
          } else {
            this.deadline = 0;
            ex!.receiveEnd(event.trailers);
          }
          break;
        case "closed":
          // The client closed between requests: the polite end of a connection.
          this.closeGracefully("the client closed the connection between requests");
          return;
      }
    }
  }

  /** Reads from the socket only while there is room for what arrives. */
  private updateReading(): void {
    const phase = this.phase;
    if (phase === "closed" || phase === "switched") return;
    const shouldRead =
      phase === "closing" ||
      (phase !== "draining" && this.core.bufferedBytes < this.options.maxBufferedBytes);
    if (shouldRead === !this.readingPaused) return;
    this.readingPaused = !shouldRead;
    if (shouldRead) this.socket.resume();
    else this.socket.pause();
  }

  /**
   * A WebSocket upgrade request parsed before the session machinery was ever
   * needed (websocket-loader.ts): the app is called once it is loaded, so
   * that accepting stays synchronous for the gateways. Nothing after the
   * request is parsed meanwhile; bytes keep arriving up to maxBufferedBytes.
   */
  private holdForWebSocket(head: RequestHead): void {
    this.heldRequest = head;
    if (this.tracer !== null) this.trace("upgrade", "loading the WebSocket machinery before calling the app");
    const resume = () => {
      this.heldRequest = null;
      if (this.phase !== "open" || this.socket.destroyed) return;
      try {
        this.startExchange(head);
        this.pump();
      } catch (err) {
        this.host.logger.error(`connection ${this.peer()}: request failed`, err);
        this.abort("internal error");
      }
    };
    loadWebSocketStack().then(resume, (err: unknown) => {
      // The app is still called: accepting then fails with a 500 (acceptWebSocket).
      this.host.logger.error("could not load the WebSocket machinery", err);
      resume();
    });
  }

  private startExchange(head: RequestHead): void {
    // Behind a trusted proxy the app sees the client it speaks for; the
    // connection's own info stays the proxy's for the next request's check.
    const { request, info } =
      this.host.proxyTrust === null
        ? { request: head, info: this.info }
        : applyProxyHeaders(head, this.info, this.host.proxyTrust);
    const ex = new Exchange(this, request, info, this.host, this.tracer, this.traceId);
    this.exchange = ex;
    if (this.tracer !== null) this.trace("request", describeRequest(head));
    this.deadline = 0; // the app's own time is not limited here
    // A request without a body is complete with its head (the exchange knows
    // it): take its end event now, so the connection is reusable the moment
    // the response is done.
    if (head.framing === "none") this.core.nextEvent();
    if (this.overloaded) {
      // Over limitConcurrency: 503 without calling the app (uvicorn's rule), and close.
      this.core.closeAfterResponse();
      ex.respond({ status: 503, headers: OVERLOADED_HEADERS }, OVERLOADED);
      return;
    }
    try {
      this.host.handler(ex);
    } catch (err) {
      ex.fail(err);
    }
  }

  // ---- ExchangeOwner ------------------------------------------------------

  readBody(_ex: Exchange): void {
    const proceed = this.core.sendContinue();
    if (proceed !== null) {
      if (this.tracer !== null)
        this.trace("write", "100 Continue: the app reads the body, so the client may send it");
      this.write(proceed);
    }
    this.pump();
  }

  resumeBody(ex: Exchange): void {
    if (ex === this.exchange) this.pump();
  }

  sendHead(_ex: Exchange, head: ResponseHead, body?: Uint8Array | string): void {
    // A string (head and string body, ASCII head) is written as Latin-1 when
    // all of it is ASCII (the same bytes, copied), else as UTF-8.
    const bytes = body === undefined ? this.core.sendResponse(head) : this.core.sendResponse(head, body);
    if (this.tracer !== null) this.traceHead(bytes, body);
    // A whole response with no request waiting behind it is its turn's only
    // write (the common keep-alive case): it goes out as it is, uncorked.
    // A head whose body follows, or pipelined requests still to answer, are gathered.
    if (typeof bytes === "string") {
      const ascii = this.core.lastTextAscii;
      if (this.pendingText !== "" || this.core.bufferedBytes > 0) {
        // Another response of this turn may follow: joined, written at the flush.
        this.queueFlush();
        this.pendingText += bytes;
        if (!ascii) this.pendingAscii = false;
        return;
      }
      this.write(bytes, ascii);
      return;
    }
    if (body === undefined || this.core.bufferedBytes > 0) this.gather();
    this.write(bytes);
  }

  sendData(_ex: Exchange, chunk: Uint8Array): boolean {
    const pieces = this.core.sendData(chunk);
    if (this.tracer !== null) {
      const framing = pieces.length > 1 ? ` as one chunk (${pieces[0]!.length + 2} bytes of framing)` : "";
      this.trace("write", `body ${chunk.length} bytes${framing}`);
    }
    const socket = this.socket;
    if (pieces.length > 0) {
      this.gather();
      for (const piece of pieces) this.write(piece);
    }
    if (socket.writableNeedDrain) {
      // Over the high-water mark: what was gathered goes to the kernel now, not at the end of the turn.
      this.flush();
      if (this.tracer !== null) this.traceBlocked();
      this.setDeadline(this.options.sendTimeout);
      this.sendDeadline = this.deadline;
      return false;
    }
    return true;
  }

  sendEnd(ex: Exchange, trailers?: readonly string[]): boolean {
    let last: Buffer | null;
    try {
      last = this.core.sendEnd(trailers);
    } catch (err) {
      // The body fell short of its Content-Length, or a trailer was refused:
      // only closing tells the client the response is not whole.
      this.host.logger.error(`response to ${this.describe(ex)} was cut short`, err);
      this.exchange = null;
      this.abort("the response could not be ended (body short of its Content-Length, or a refused trailer)");
      return false;
    }
    if (this.tracer !== null) {
      const end = last === null ? "end of body" : "end of body: last chunk 0\\r\\n\\r\\n";
      this.trace("write", last !== null && last.length > 5 ? "end of body: last chunk and trailers" : end);
    }
    if (last !== null) {
      this.gather();
      this.write(last);
    }
    return true;
  }

  sendInformational(_ex: Exchange, head: ResponseHead): void {
    const bytes = this.core.sendInformational(head);
    if (bytes === null) return;
    if (this.tracer !== null) this.trace("write", `interim response ${head.status}`);
    this.write(bytes);
  }

  checkWebSocket(ex: Exchange): HandshakeRequest {
    return checkUpgrade(ex.request, this.options, this.host.webSocketCount);
  }

  acceptWebSocket(ex: Exchange, accept: WebSocketAccept): WebSocketSession {
    const handshake = this.checkWebSocket(ex);
    const stack = webSocketStack();
    // Loaded before any upgrade request reaches the app (holdForWebSocket), unless the load failed.
    if (stack === null) throw new InternalError("the WebSocket machinery could not be loaded");
    const upgrade = stack.negotiateUpgrade(handshake, accept, this.options, this.tracer, this.traceId);
    const bytes = this.core.sendSwitchingProtocols(upgrade.head);
    this.exchange = null;
    const trailing = this.core.takeTrailingData();
    if (this.tracer !== null) {
      const extensions = upgrade.agreed.extensions;
      this.trace(
        "write",
        `101 Switching Protocols (${bytes.length} bytes)${extensions === "" ? "" : `, ${extensions}`}`,
      );
      this.trace("upgrade", "HTTP is over on this connection: a WebSocket session owns the socket now");
    }
    // From here the socket is the session's: drop our listeners and deadline.
    this.enter("switched");
    this.deadline = 0;
    const socket = this.socket;
    if (this.pendingText !== "") this.writeText();
    for (const event of ["data", "end", "drain", "error", "close"]) socket.removeAllListeners(event);
    // The session takes the reads (it redirects shared reads to itself; see socket-reads.ts).
    socket.write(bytes);
    const session = new stack.WebSocketSession(
      socket,
      upgrade.core,
      this.host,
      ex.info,
      upgrade.agreed,
      trailing,
      this.traceId,
    );
    this.host.connectionUpgraded(this, session);
    return session;
  }

  detachSocket(ex: Exchange): DetachedSocket {
    let head: Uint8Array = new Uint8Array(0);
    // The bytes after a complete request head belong to whoever takes the socket.
    if (this.core.theirState === "DONE") head = this.core.takeUnparsedData();
    if (this.tracer !== null) this.trace("detach", `the app took the socket for ${this.describe(ex)}`);
    this.exchange = null;
    this.enter("switched");
    this.deadline = 0;
    const socket = this.socket;
    if (this.pendingText !== "") this.writeText();
    for (const [event, listener] of Object.entries(this.listeners)) socket.removeListener(event, listener);
    // The new owner reads through 'data' events (socket-reads.ts).
    releaseSharedReads(socket);
    // Flowing again for the new owner's 'data' listener, whatever we last told the socket.
    if (this.readingPaused) socket.resume();
    if (this.host.connectionDetached !== undefined) this.host.connectionDetached(this, socket);
    else this.host.connectionClosed(this);
    return { socket, head };
  }

  waitForDrain(ex: Exchange, callback: () => void): void {
    if (ex !== this.exchange || this.phase === "closed") return;
    if (!this.socket.writableNeedDrain) {
      queueMicrotask(callback);
      return;
    }
    this.drainCallback = callback;
    this.setDeadline(this.options.sendTimeout);
  }

  fail(ex: Exchange, err: unknown): void {
    if (ex.finished || ex !== this.exchange) {
      this.host.logger.error(`error after the response to ${this.describe(ex)} was complete`, err);
      return;
    }
    this.host.logger.error(`error while handling ${this.describe(ex)}`, err);
    if (!ex.headersSent) {
      // Nothing sent yet: a short, detail-free 500 (wsgiref's rule).
      ex.respond({ status: 500, headers: ["Content-Type", "text/plain; charset=utf-8"] }, INTERNAL_ERROR);
      return;
    }
    // Mid-body: the client can only learn of the failure by the connection
    // closing (the exchange then ends as cut short).
    this.exchange = null;
    this.abort("the app failed after the response head was sent");
  }

  // ---- end of an exchange -------------------------------------------------

  responseDone(ex: Exchange): void {
    const core = this.core;
    if (this.tracer !== null) {
      const bodyUnread = core.ourState === "DONE" && core.theirState === "SEND_BODY";
      this.trace("done", describeAfterResponse(ex.status, core.reusable, bodyUnread));
    }
    if (core.reusable) {
      this.nextCycle();
    } else if (core.ourState === "DONE" && core.theirState === "SEND_BODY") {
      // The app answered without reading the whole body: read and drop the
      // rest (up to maxDrainSize) so the connection can carry the next request.
      this.exchange = null;
      this.enter("discarding");
      this.discarded = 0;
      this.setDeadline(this.options.bodyTimeout);
      this.pump();
    } else {
      this.exchange = null;
      this.closeGracefully("the response said Connection: close");
    }
  }

  private nextCycle(): void {
    this.core.startNextCycle();
    this.exchange = null;
    if (this.host.shuttingDown) {
      this.closeGracefully("server shutting down");
      return;
    }
    // Stop at one response's worth of unsent bytes: a client that does not
    // read its responses does not get to queue more work.
    if (this.socket.writableNeedDrain) {
      this.flush(); // no use holding more than the high-water mark back
      this.enter("draining");
      this.setDeadline(this.options.sendTimeout);
      this.updateReading();
      return;
    }
    this.startNextRequest();
  }

  private startNextRequest(): void {
    this.setDeadline(
      this.core.bufferedBytes > 0 ? this.options.headerTimeout : this.options.keepAliveTimeout,
    );
    this.pump();
  }

  // ---- errors, timeouts, closing ------------------------------------------

  private onProtocolError(err: unknown): void {
    const ex = this.exchange;
    if (!(err instanceof ProtocolError)) {
      this.host.logger.error(`internal error on connection ${this.peer()}`, err);
      this.abort("internal error");
      return;
    }
    if (this.tracer !== null) this.trace("error", `${err.status} ${err.code}: ${err.message}`);
    // A bad request is the client's problem: logged quietly, answered plainly.
    this.host.logger.debug(`bad request from ${this.peer()}: ${err.status} ${err.message}`);
    if (this.phase === "discarding") this.enter("open");
    const bytes = err instanceof RemoteProtocolError ? this.core.sendError(err) : null;
    const bodyBytes = bytes === null ? 0 : bytes.length - (bytes.indexOf("\r\n\r\n") + 4);
    if (ex !== null) {
      // The error response (if it could be sent) is this exchange's: logged and counted as such.
      // the exchange is abandoned: the app can stop (request.signal)
      if (bytes !== null) ex.abandon(err, err.status, bodyBytes);
      else ex.abandon(err);
    }
    this.exchange = null;
    if (bytes === null) {
      this.abort("protocol error after the response head was sent");
      return;
    }
    if (this.tracer !== null) this.trace("write", describeResponseHead(bytes, undefined));
    this.write(bytes);
    if (ex === null) {
      // No request head: nothing to time, and no request in the line. Body bytes, as every other line.
      if (this.options.accessLog) this.host.logger.request(this.info, null, err.status, bodyBytes, -1);
      this.host.stats?.countStatus(err.status);
    }
    this.closeGracefully(`error response ${err.status}`);
  }

  /** Called by the server's clock when {@link deadline} passed. */
  expire(): void {
    this.deadline = 0;
    const phase = this.phase;
    if (phase === "closed") return;
    if (
      phase === "closing" ||
      phase === "draining" ||
      phase === "discarding" ||
      this.drainCallback !== null
    ) {
      this.abort(phase === "closing" ? "linger or send timeout while closing" : "send or body timeout");
      return;
    }
    const ex = this.exchange;
    if (ex === null && this.core.idle) {
      // Idle keep-alive connection (or one that never sent a byte): just close.
      this.closeGracefully("idle timeout");
      return;
    }
    if (ex?.headersSent) {
      this.abort("send timeout: the client stopped reading");
      return;
    }
    // Partial head or stalled body: 408 (RFC 9110 §15.5.9), then close.
    const timeout = new RemoteProtocolError(
      ex === null ? "request head not received in time" : "request body not received in time",
      "TSGI_ERR_INCOMPLETE_MESSAGE",
      408,
    );
    this.onProtocolError(timeout);
  }

  /**
   * Ends our side once queued writes are flushed, then keeps reading (and
   * dropping) for `lingerTimeout` so late client bytes cannot turn into a
   * reset that destroys the response we just sent.
   */
  private closeGracefully(why: string): void {
    if (this.phase === "closing" || this.phase === "closed") return;
    this.enter("closing");
    if (this.tracer !== null) this.trace("close", `${why}: FIN once queued bytes are flushed, then linger`);
    this.drainCallback = null;
    // Until our bytes are flushed the client is slow to read (send timeout);
    // after that, linger briefly for the client's FIN.
    this.setDeadline(this.options.sendTimeout);
    if (this.pendingText !== "") this.writeText();
    this.socket.end(() => this.setDeadline(this.options.lingerTimeout));
    this.updateReading();
  }

  /**
   * Writes `bytes` to the socket, after any responses of this turn still
   * waiting as text; an ASCII string as Latin-1 (the same bytes, copied instead of encoded).
   */
  private write(bytes: Uint8Array | string, ascii = false): void {
    if (this.pendingText !== "") this.writeText();
    if (ascii) this.socket.write(bytes as string, "latin1");
    else this.socket.write(bytes);
  }

  /** The joined responses of {@link pendingText}, as one string: Latin-1 when all ASCII, else UTF-8. */
  private writeText(): void {
    const text = this.pendingText;
    const encoding = this.pendingAscii ? "latin1" : "utf8";
    this.pendingText = "";
    this.pendingAscii = true;
    if (!this.socket.destroyed) this.socket.write(text, encoding);
  }

  /**
   * Gathers the writes of this event-loop turn into one: the socket is corked
   * at the first and uncorked at the end of the turn (see {@link flushTick}),
   * so responses answered in the same turn join the batch. node:http corks
   * its responses the same way (lib/_http_outgoing.js). No latency is added,
   * unlike setImmediate.
   */
  private gather(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    this.queueFlush();
  }

  /**
   * Queues the turn's flush without corking: what {@link pendingText} gathers
   * needs no cork (it is one string until the flush), and a lone string
   * written uncorked goes straight to the socket, skipping the Writable's
   * buffering of corked writes.
   */
  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    process.nextTick(this.flushTick);
  }

  /** Destroys the socket now (a reset if bytes are unread), saying why in the trace. */
  private abort(why: string): void {
    if (this.tracer !== null && !this.socket.destroyed) this.trace("close", `${why}: connection dropped`);
    // What was written before the failure goes out first, as it would have uncorked.
    this.flush();
    this.socket.destroy();
  }

  /** Moves to `next`, refusing a move the phase table does not list, or one that would orphan an exchange. */
  private enter(next: ConnectionPhase): void {
    checkTransition(this.phase, next);
    if (next !== "open" && this.exchange !== null)
      throw new InternalError(`entering ${next} with an exchange in progress`);
    this.phase = next;
  }

  private setDeadline(ms: number): void {
    if (ms <= 0) this.deadline = 0;
    else this.deadline = (this.readAt !== 0 ? this.readAt : Date.now()) + ms;
  }

  // ---- trace (only called when --trace is on) -----------------------------

  private trace(step: string, detail: string): void {
    this.tracer!.step(this.traceId, step, detail);
  }

  private traceHead(bytes: Buffer | string, body: Uint8Array | string | undefined): void {
    const asBytes = (x: Buffer | string) => (typeof x === "string" ? Buffer.from(x, "utf8") : x);
    const bodyBytes = body === undefined ? undefined : asBytes(body as Buffer | string);
    this.trace("write", describeResponseHead(asBytes(bytes), bodyBytes));
  }

  private traceRead(chunk: Buffer): void {
    const tracer = this.tracer!;
    const what = this.phase === "closing" ? " (discarded: closing)" : "";
    this.trace("read", `${chunk.length} bytes${what}${tracer.bytes ? `\n${tracer.excerpt(chunk)}` : ""}`);
  }

  private traceBlocked(): void {
    this.blockedAt = performance.now();
    this.trace(
      "backpressure",
      `socket.write() returned false: ${this.socket.writableLength} bytes queued in user space; waiting for 'drain'`,
    );
  }

  // ---- logging ------------------------------------------------------------

  private peer(): string {
    return `${this.info.remoteAddress}:${this.info.remotePort}`;
  }

  private describe(ex: Exchange): string {
    return `${ex.request.method} ${ex.request.target}`;
  }
}
