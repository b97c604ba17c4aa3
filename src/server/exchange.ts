/**
 * One request/response exchange as a gateway sees it: the request head, a
 * flow-controlled request body, and the calls that send the response. Every
 * gateway (WSGI-style, Fetch, ASGI-style) is a thin adapter over this object.
 *
 * The exchange owns its lifecycle (wsgiref's `BaseHandler` rule: the state is
 * the handler's, its owners only supply I/O): whether the head went out, what
 * status and how many body bytes, whether it is over and why, and the end of
 * it all, the access-log line, the metrics and the client-gone listeners,
 * happen here and nowhere else. Its owner (the socket connection, or a
 * `--threads` worker's stand-in) does the I/O through {@link ExchangeOwner}
 * and reports what only it can see (body bytes arriving, the client leaving)
 * through the internal (owner-only) methods at the end of the class.
 */

import { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import type { RequestHead, ResponseHead } from "../http1/events.ts";
import type { HandshakeRequest } from "../websocket/handshake.ts";
import { CLIENT_CLOSED_REQUEST } from "./access-log.ts";
import type { ConnectionInfo } from "./connection-info.ts";
import { ClientGoneError, ExchangeStateError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { RequestStats } from "./metrics.ts";
import type { Tracer } from "./trace.ts";
import type { WebSocketAccept, WebSocketSession } from "./websocket.ts";

/** Receives the request body, in order. */
export interface BodySink {
  /**
   * A piece of the body. The bytes may view a socket read buffer or the
   * parser's join buffer; neither is ever written again, so they may be kept.
   */
  data(chunk: Uint8Array): void;
  /** The body is complete; `trailers` is a flat name/value list (empty unless chunked with trailers). */
  end(trailers: string[]): void;
  /** The body will not complete: a protocol error (e.g. over the size limit), a timeout, or the client went away. */
  error(err: Error): void;
}

/** Where an exchange is accounted for when it ends: the server's access log and metrics. */
export interface ExchangeRecords {
  readonly options: { readonly accessLog: boolean };
  readonly logger: Logger;
  /** With `--metrics`: the counters each completed response bumps; else null or absent. */
  readonly stats?: RequestStats | null;
}

/**
 * The I/O an exchange asks of its owner. The hooks move bytes; none of them
 * changes the exchange's state, which the exchange updates itself around them.
 */
export interface ExchangeOwner {
  /**
   * The app began reading the body: ask the client for it (`100 Continue`)
   * and deliver it through {@link Exchange.receiveData} and {@link Exchange.receiveEnd}.
   */
  readBody(exchange: Exchange): void;
  /** The app un-paused the body: deliver what is buffered. */
  resumeBody(exchange: Exchange): void;
  /**
   * Writes the response head, with `body` the whole response (a string is
   * sent as UTF-8). Throws, having written nothing, for an invalid head.
   */
  sendHead(exchange: Exchange, head: ResponseHead, body?: Uint8Array | string): void;
  /** Writes a piece of the body; false when the socket buffer is full. */
  sendData(exchange: Exchange, chunk: Uint8Array): boolean;
  /** Writes the end of the body (with `trailers` if chunked); false when the response could not be completed (the connection was dropped). */
  sendEnd(exchange: Exchange, trailers?: readonly string[]): boolean;
  /** Writes an interim 1xx response (103 Early Hints, ...); absent where none can be sent (a thread). */
  sendInformational?(exchange: Exchange, head: ResponseHead): void;
  /** Calls `callback` once what was written has flushed. */
  waitForDrain(exchange: Exchange, callback: () => void): void;
  /** The response is complete and accounted for: the connection may carry the next request. */
  responseDone(exchange: Exchange): void;
  /**
   * Answers an app failure: the socket connection logs it, then sends a 500
   * through {@link Exchange.respond} or drops the connection; a thread hands
   * it to the main thread. What the answer leaves open the exchange ends as cut short.
   */
  fail(exchange: Exchange, err: unknown): void;
  /** Validates the request as a WebSocket handshake (see {@link Exchange.checkWebSocket}). */
  checkWebSocket(exchange: Exchange): HandshakeRequest;
  /** Sends `101 Switching Protocols` and hands the socket to the session it returns. */
  acceptWebSocket(exchange: Exchange, accept: WebSocketAccept): WebSocketSession;
  /**
   * Gives up the socket: HTTP is over on it and the caller owns it (see
   * {@link Exchange.detachSocket}). Absent where there is no socket (a thread).
   */
  detachSocket?(exchange: Exchange): DetachedSocket;
}

/** A socket handed over by {@link Exchange.detachSocket}. */
export interface DetachedSocket {
  readonly socket: Socket;
  /** The bytes received after the request head (already the next protocol's). */
  readonly head: Uint8Array;
}

const CLIENT_GONE = "client disconnected";

/**
 * A request being answered.
 *
 * @example
 * const handler = (ex: Exchange) => {
 *   ex.respond({ status: 200, headers: ["Content-Type", "text/plain"] }, Buffer.from("hi\n"));
 * };
 */
export class Exchange {
  /** `performance.now()` when the head was parsed, if the server keeps an access log or metrics (else 0). */
  readonly startTime: number;
  readonly #owner: ExchangeOwner;
  readonly #records: ExchangeRecords | null;
  #status = 0;
  #bytesSent = 0;
  /** A whole string body not yet counted in #bytesSent: its UTF-8 length is measured only if asked for. */
  #uncountedText: string | null = null;
  #headersSent = false;
  #finished = false;
  #clientGone = false;
  /** The body consumer, once `readBody()` was called. */
  #sink: BodySink | null = null;
  #bodyPaused = false;
  /** The whole body was delivered (or there is none). */
  #bodyDone: boolean;
  #closeListeners: (() => void)[] | null = null;

  constructor(
    owner: ExchangeOwner,
    /** The parsed request head. */
    readonly request: RequestHead,
    /** The connection it arrived on. */
    readonly info: ConnectionInfo,
    /** Where the end of the exchange is logged and counted; null for none (a thread's stand-in). */
    records: ExchangeRecords | null = null,
    /** The `--trace` writer, or null when tracing is off: check it before building a trace line. */
    readonly tracer: Tracer | null = null,
    /** The connection's number in the trace. */
    readonly traceId = 0,
  ) {
    this.#owner = owner;
    this.#records = records;
    this.#bodyDone = request.framing === "none";
    this.startTime =
      records !== null && (records.options.accessLog || records.stats != null) ? performance.now() : 0;
  }

  /** HTTP status sent, 0 until the response head is out. */
  get status(): number {
    return this.#status;
  }

  /** Body bytes handed to the connection so far. */
  get bytesSent(): number {
    const text = this.#uncountedText;
    if (text !== null) {
      this.#uncountedText = null;
      this.#bytesSent += Buffer.byteLength(text, "utf8");
    }
    return this.#bytesSent;
  }

  /** The response head has been sent. */
  get headersSent(): boolean {
    return this.#headersSent;
  }

  /** The response is complete (or the exchange was abandoned). */
  get finished(): boolean {
    return this.#finished;
  }

  /** The client closed the connection before the response was complete. */
  get clientGone(): boolean {
    return this.#clientGone;
  }

  /** The app paused the body ({@link pauseBody}) and has not resumed it. */
  get bodyPaused(): boolean {
    return this.#bodyPaused;
  }

  /**
   * Writes one `--trace` step for this exchange (gateways report what they
   * built and what the app did). Guard calls with `if (ex.tracer !== null)`
   * so no string is built when tracing is off.
   */
  trace(step: string, detail: string): void {
    this.tracer?.step(this.traceId, step, detail);
  }

  /**
   * Starts delivering the request body to `sink`. Sends `100 Continue` first
   * if the client waits for it: reading the body is what asks for it.
   */
  readBody(sink: BodySink): void {
    if (this.#sink !== null) throw new ExchangeStateError("the request body is already being read");
    if (this.#finished) {
      // Abandoned (client gone, protocol error): the body will never come.
      sink.error(
        this.#clientGone ? new ClientGoneError(CLIENT_GONE) : new ExchangeStateError("the exchange is over"),
      );
      return;
    }
    this.#sink = sink;
    if (this.#bodyDone) {
      sink.end([]); // no body: complete already
      return;
    }
    this.#owner.readBody(this);
  }

  /** Stops body delivery until {@link resumeBody}; the socket stops being read once the buffer fills. */
  pauseBody(): void {
    this.#bodyPaused = true;
  }

  /** Resumes body delivery. */
  resumeBody(): void {
    this.#bodyPaused = false;
    if (!this.#finished) this.#owner.resumeBody(this);
  }

  /**
   * Sends the response head; with `body` the whole response (one write,
   * Content-Length set). A string body is sent as UTF-8, written with the
   * head as one string (no Buffer built for it).
   * Throws a LocalProtocolError for an invalid status or header.
   */
  respond(head: ResponseHead, body?: Uint8Array | string): void {
    this.#expect(false);
    this.#owner.sendHead(this, head, body);
    this.#headersSent = true;
    this.#status = head.status;
    if (body !== undefined) {
      if (typeof body === "string") this.#uncountedText = body;
      else this.#bytesSent = body.length;
      this.#complete();
    }
  }

  /** Sends a piece of the body. Returns false when the socket buffer is full: wait for {@link onDrain}. */
  write(chunk: Uint8Array): boolean {
    this.#expect(true);
    const flowing = this.#owner.sendData(this, chunk);
    this.#bytesSent += chunk.length;
    return flowing;
  }

  /**
   * Completes the response. `trailers`, a flat name/value list, go in the
   * trailer section when the body is chunked (dropped otherwise).
   */
  end(trailers?: readonly string[]): void {
    this.#expect(true);
    if (this.#owner.sendEnd(this, trailers)) this.#complete();
    else this.#finish(false);
  }

  /**
   * Sends an interim response before the final head, e.g. 103 Early Hints
   * (RFC 8297); nothing to an HTTP/1.0 client (RFC 9110 §15.2) or where the
   * owner cannot (a thread).
   * @throws LocalProtocolError for a status outside 102..199 or an invalid header; ExchangeStateError once the head was sent.
   */
  informational(head: ResponseHead): void {
    this.#expect(false);
    this.#owner.sendInformational?.(this, head);
  }

  /** Calls `callback` once the socket has flushed what was written (at once if nothing is pending). */
  onDrain(callback: () => void): void {
    this.#owner.waitForDrain(this, callback);
  }

  /**
   * Reports an app failure: a 500 response if the head has not gone out,
   * else the connection is closed. Logged once.
   */
  fail(err: unknown): void {
    this.#owner.fail(this, err);
    if (!this.#finished) this.#finish(false);
  }

  /**
   * Validates the request as a WebSocket opening handshake (RFC 6455 §4.2.1)
   * and checks the server has room for one more. Sends nothing.
   * @throws HandshakeError with the status (400, 426, 503) and headers to answer with.
   */
  checkWebSocket(): HandshakeRequest {
    return this.#owner.checkWebSocket(this);
  }

  /**
   * Accepts the WebSocket: sends `101 Switching Protocols` (with the chosen
   * subprotocol, the agreed extensions and `accept.headers`) and returns the
   * session that owns the connection from now on. The exchange is complete.
   * @throws HandshakeError if the request is not a valid handshake (nothing is sent).
   */
  acceptWebSocket(accept: WebSocketAccept = {}): WebSocketSession {
    this.#expect(false);
    const session = this.#owner.acceptWebSocket(this, accept);
    this.#headersSent = true;
    this.#status = 101;
    this.#finish(true);
    return session;
  }

  /**
   * Hands the raw socket over and ends the exchange: the node:http-style
   * gateway's `'upgrade'` listeners speak the next protocol themselves
   * (`upgraded`, accounted as 101), and an app that destroys its socket
   * gets it to destroy (accounted as cut short). tsgi writes nothing more on it.
   * `status` is what the access log and metrics record for a handover that
   * is not cut short: 101 for an upgrade, 200 for a CONNECT tunnel (the
   * listener writes its own status line, which tsgi does not see).
   * @throws ExchangeStateError where the owner has no socket to give (a `--threads` worker), or the exchange is over.
   */
  detachSocket(upgraded: boolean, status = 101): DetachedSocket {
    if (this.#finished) throw new ExchangeStateError("this response is already complete");
    if (this.#owner.detachSocket === undefined)
      throw new ExchangeStateError("this connection cannot hand its socket over");
    const detached = this.#owner.detachSocket(this);
    if (upgraded) {
      this.#headersSent = true;
      this.#status = status;
    }
    this.#finish(upgraded);
    return detached;
  }

  /** Calls `listener` if the client goes away before the response completes. */
  onClientGone(listener: () => void): void {
    if (this.#clientGone) {
      listener();
      return;
    }
    if (this.#closeListeners === null) this.#closeListeners = [];
    this.#closeListeners.push(listener);
  }

  // ---- what the owner reports ---------------------------------------------

  /** @internal The app reads the body and has not paused it: the owner may deliver. */
  get bodyFlowing(): boolean {
    return this.#sink !== null && !this.#bodyPaused;
  }

  /** @internal The app called {@link readBody}: the body is awaited. */
  get bodyRequested(): boolean {
    return this.#sink !== null;
  }

  /** @internal The whole body was delivered, or there is none. */
  get bodyDone(): boolean {
    return this.#bodyDone;
  }

  /** @internal A piece of the body arrived (only while {@link bodyFlowing}). */
  receiveData(chunk: Uint8Array): void {
    this.#sink!.data(chunk);
  }

  /** @internal The body is complete (only while {@link bodyRequested}). */
  receiveEnd(trailers: string[]): void {
    this.#bodyDone = true;
    this.#sink!.end(trailers);
  }

  /**
   * @internal The owner ends the exchange before its response completed: the
   * client went away (`reason` null), or sent something invalid (`reason`). Accounts for it
   * as cut short, or, given `status` and `bytes`, as the error response the
   * owner wrote itself (400, 408, 413 ...); fails a body read in progress
   * with `reason`; and tells the client-gone listeners, so the app can stop.
   */
  abandon(reason: Error | null, status?: number, bytes?: number): void {
    if (!this.#finished) {
      if (status === undefined) this.#finish(false);
      else this.#finish(true, status, bytes);
    }
    if (this.#sink !== null && !this.#bodyDone) this.#sink.error(reason ?? new ClientGoneError(CLIENT_GONE));
    if (this.#clientGone) return;
    this.#clientGone = true;
    const listeners = this.#closeListeners;
    this.#closeListeners = null;
    if (listeners !== null) for (const l of listeners) l();
  }

  // ---- the lifecycle ------------------------------------------------------

  /** Throws unless the exchange is open with the head sent (`headersSent`) or not. */
  #expect(headersSent: boolean): void {
    if (this.#finished) throw new ExchangeStateError("this response is already complete");
    if (this.#headersSent !== headersSent) {
      throw new ExchangeStateError(
        headersSent ? "the response head has not been sent" : "the response head was already sent",
      );
    }
  }

  /** The response went out whole: account for it, then let the owner move on. */
  #complete(): void {
    this.#finish(true);
    this.#owner.responseDone(this);
  }

  /**
   * The end of the exchange, complete or cut short: the one place it is
   * marked finished, given its access line and counted. A response cut short
   * is logged with the status sent (499 when no head went out, as nginx does)
   * and the body bytes handed to the owner.
   */
  #finish(
    complete: boolean,
    status = this.#headersSent ? this.#status : CLIENT_CLOSED_REQUEST,
    bytes = -1,
  ): void {
    this.#finished = true;
    const records = this.#records;
    if (records === null) return;
    const access = records.options.accessLog;
    const stats = records.stats;
    if (!access && stats == null) return;
    const durationMs = performance.now() - this.startTime;
    if (access) {
      // Measured only here: the UTF-8 length of a string body costs a pass over it.
      const sent = bytes === -1 ? this.bytesSent : bytes;
      records.logger.request(this.info, this.request, status, sent, durationMs, complete);
    }
    stats?.record(status, durationMs, complete);
  }
}
