/**
 * One request/response exchange as a gateway sees it: the request head, a
 * flow-controlled request body, and the calls that send the response. Every
 * gateway (WSGI-style, and later Fetch and ASGI-style) is a thin adapter over
 * this object; the connection behind it does the I/O.
 */

import type { RequestHead, ResponseHead } from "../http1/events.ts";
import type { HandshakeRequest } from "../websocket/handshake.ts";
import type { ConnectionInfo } from "./connection-info.ts";
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

/** The operations of the connection an exchange calls into. */
export interface ExchangeOwner {
  readBody(exchange: Exchange, sink: BodySink): void;
  resumeBody(exchange: Exchange): void;
  respond(exchange: Exchange, head: ResponseHead, body?: Uint8Array): void;
  write(exchange: Exchange, chunk: Uint8Array): boolean;
  end(exchange: Exchange): void;
  waitForDrain(exchange: Exchange, callback: () => void): void;
  fail(exchange: Exchange, err: unknown): void;
  checkWebSocket(exchange: Exchange): HandshakeRequest;
  acceptWebSocket(exchange: Exchange, accept: WebSocketAccept): WebSocketSession;
}

/**
 * A request being answered.
 *
 * @example
 * const handler = (ex: Exchange) => {
 *   ex.respond({ status: 200, headers: ["Content-Type", "text/plain"] }, Buffer.from("hi\n"));
 * };
 */
export class Exchange {
  /** HTTP status sent, 0 until the response head is out. */
  status = 0;
  /** Body bytes handed to the connection so far. */
  bytesSent = 0;
  /** The response head has been sent. */
  headersSent = false;
  /** The response is complete (or the exchange was abandoned). */
  finished = false;
  /** The client closed the connection before the response was complete. */
  clientGone = false;
  /** @internal The body consumer, once `readBody()` was called. */
  sink: BodySink | null = null;
  /** @internal The consumer asked for a pause. */
  bodyPaused = false;
  /** @internal The whole body was delivered. */
  bodyDone = false;
  /** `performance.now()` when the head was parsed, if the server keeps an access log (else 0). */
  readonly startTime: number;
  private closeListeners: (() => void)[] | null = null;

  constructor(
    private readonly owner: ExchangeOwner,
    /** The parsed request head. */
    readonly request: RequestHead,
    /** The connection it arrived on. */
    readonly info: ConnectionInfo,
    startTime = 0,
    /** The `--trace` writer, or null when tracing is off: check it before building a trace line. */
    readonly tracer: Tracer | null = null,
    /** The connection's number in the trace. */
    readonly traceId = 0,
  ) {
    this.startTime = startTime;
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
    this.owner.readBody(this, sink);
  }

  /** Stops body delivery until {@link resumeBody}; the socket stops being read once the buffer fills. */
  pauseBody(): void {
    this.bodyPaused = true;
  }

  /** Resumes body delivery. */
  resumeBody(): void {
    this.bodyPaused = false;
    this.owner.resumeBody(this);
  }

  /**
   * Sends the response head; with `body` the whole response (one write,
   * Content-Length set). Throws a LocalProtocolError for an invalid status or header.
   */
  respond(head: ResponseHead, body?: Uint8Array): void {
    this.owner.respond(this, head, body);
  }

  /** Sends a piece of the body. Returns false when the socket buffer is full: wait for {@link onDrain}. */
  write(chunk: Uint8Array): boolean {
    return this.owner.write(this, chunk);
  }

  /** Completes the response. */
  end(): void {
    this.owner.end(this);
  }

  /** Calls `callback` once the socket has flushed what was written (at once if nothing is pending). */
  onDrain(callback: () => void): void {
    this.owner.waitForDrain(this, callback);
  }

  /**
   * Reports an app failure: a 500 response if the head has not gone out,
   * else the connection is closed. Logged once.
   */
  fail(err: unknown): void {
    this.owner.fail(this, err);
  }

  /**
   * Validates the request as a WebSocket opening handshake (RFC 6455 §4.2.1)
   * and checks the server has room for one more. Sends nothing.
   * @throws HandshakeError with the status (400, 426, 503) and headers to answer with.
   */
  checkWebSocket(): HandshakeRequest {
    return this.owner.checkWebSocket(this);
  }

  /**
   * Accepts the WebSocket: sends `101 Switching Protocols` (with the chosen
   * subprotocol, the agreed extensions and `accept.headers`) and returns the
   * session that owns the connection from now on. The exchange is complete.
   * @throws HandshakeError if the request is not a valid handshake (nothing is sent).
   */
  acceptWebSocket(accept: WebSocketAccept = {}): WebSocketSession {
    return this.owner.acceptWebSocket(this, accept);
  }

  /** Calls `listener` if the client goes away before the response completes. */
  onClientGone(listener: () => void): void {
    if (this.clientGone) {
      listener();
      return;
    }
    if (this.closeListeners === null) this.closeListeners = [];
    this.closeListeners.push(listener);
  }

  /** @internal Called by the connection when the client disconnected early. */
  notifyClientGone(): void {
    if (this.clientGone) return;
    this.clientGone = true;
    const listeners = this.closeListeners;
    this.closeListeners = null;
    if (listeners !== null) for (const l of listeners) l();
  }
}
