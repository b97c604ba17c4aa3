/**
 * The http scope over one Exchange: receive() hands out the request body with
 * backpressure and then waits for `http.disconnect`; send() checks the order
 * of response events and writes them, resolving once the socket has room.
 * After the app returns or throws, the rules follow uvicorn: an exception
 * before the response went out is a 500, after it the connection is closed;
 * returning without completing the response is logged and treated the same.
 */

import type { ResponseHead } from "../../http1/events.ts";
import type { BodySink, Exchange } from "../../server/exchange.ts";
import type { Logger } from "../../server/log.ts";
import { ASGIContractError, ASGIDisconnectedError } from "./errors.ts";
import { bodyBytes, flatHeaders } from "./scope.ts";
import { appCallables } from "./trace.ts";
import type { ASGIApp, HTTPReceiveEvent, HTTPScope, ReceiveEvent, SendEvent } from "./types.ts";

const EMPTY = new Uint8Array(0);
const DISCONNECT: HTTPReceiveEvent = Object.freeze({ type: "http.disconnect" }) as HTTPReceiveEvent;

/**
 * Where the response stands: waiting for `http.response.start`; started (nothing
 * is written until the first body event); streaming (the head is out); complete.
 */
type Phase = "start" | "started" | "streaming" | "complete";

/** One request: the state receive() and send() share. */
export class HTTPRun implements BodySink {
  private phase: Phase = "start";
  private head: ResponseHead | null = null;

  // Request body: pieces the connection delivered that the app has not received yet.
  private reading = false;
  private pieces: Uint8Array[] = [];
  private bodyEnded = false;
  private bodyFailed = false;
  private bodyReceived = 0;
  /** The app has seen `more_body: false`. */
  private bodyDelivered = false;
  /** A receive() waiting for body. */
  private waiter: ((event: HTTPReceiveEvent) => void) | null = null;
  /** A receive() after the body, waiting for the exchange to end. */
  private disconnectWaiter: ((event: HTTPReceiveEvent) => void) | null = null;
  private watchingGone = false;

  constructor(
    private readonly ex: Exchange,
    private readonly logger: Logger,
  ) {}

  /** Calls the app and settles the exchange when it returns or throws. */
  run(app: ASGIApp, scope: HTTPScope): void {
    let result: Promise<void>;
    try {
      const [receive, send] = appCallables(this.ex, scope, this.receive, this.send);
      result = Promise.resolve(app(scope, receive, send));
    } catch (err) {
      this.failed(err);
      return;
    }
    result.then(
      () => this.returned(),
      (err) => this.failed(err),
    );
  }

  // ---- receive ------------------------------------------------------------------------------

  readonly receive = (): Promise<ReceiveEvent> => {
    const ex = this.ex;
    // After the response (or the client) is gone, only http.disconnect is left, read or unread body alike.
    if (this.phase === "complete" || ex.finished) return Promise.resolve(DISCONNECT);
    if (this.bodyDelivered) return this.disconnectEvent();
    if (!this.reading) {
      this.reading = true;
      if (ex.request.framing === "none") {
        this.bodyDelivered = true;
        return Promise.resolve({ type: "http.request", body: EMPTY, more_body: false });
      }
      // Reading is what sends 100 Continue, so it starts with the app's first receive().
      ex.readBody(this);
    }
    const event = this.takeBody();
    if (event !== null) return Promise.resolve(event);
    if (this.waiter !== null)
      return Promise.reject(new ASGIContractError("receive() called again before the last one resolved"));
    return new Promise((resolve) => {
      // The waiter goes in before resuming: resuming runs the parser at once,
      // and what it delivers now must find the waiter, not be parked for nobody.
      this.waiter = resolve;
      if (ex.bodyPaused) ex.resumeBody();
    });
  };

  /** The next body event from what has arrived, or null if nothing has. */
  private takeBody(): HTTPReceiveEvent | null {
    if (this.bodyFailed) {
      this.bodyDelivered = true;
      return DISCONNECT;
    }
    const pieces = this.pieces;
    if (pieces.length === 0 && !this.bodyEnded) return null;
    // Everything that waits goes out as one event: fewer round trips through the app.
    const body = pieces.length === 0 ? EMPTY : pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    this.pieces = [];
    const more = !this.bodyEnded;
    if (!more) this.bodyDelivered = true;
    return { type: "http.request", body, more_body: more };
  }

  private deliver(): void {
    const waiter = this.waiter;
    if (waiter === null) return;
    const event = this.takeBody();
    if (event === null) return;
    this.waiter = null;
    waiter(event);
  }

  /** BodySink: a piece of the request body. */
  data(chunk: Uint8Array): void {
    this.pieces.push(chunk);
    this.bodyReceived += chunk.length;
    // With a Content-Length the last piece is known when it arrives: say so in the same event.
    const req = this.ex.request;
    if (req.framing === "length" && this.bodyReceived >= req.contentLength) this.bodyEnded = true;
    if (this.waiter !== null) this.deliver();
    // Nobody is receiving: hold the rest in the socket until the app asks again.
    else if (!this.bodyEnded) this.ex.pauseBody();
  }

  /** BodySink: the body is complete. */
  end(): void {
    this.bodyEnded = true;
    this.deliver();
  }

  /** BodySink: the body will not complete (the connection answered 4xx, or the client left). */
  error(): void {
    this.bodyFailed = true;
    this.deliver();
  }

  /** After the body: wait until the response is complete or the client is gone (the spec's blocking receive). */
  private disconnectEvent(): Promise<ReceiveEvent> {
    if (this.disconnectWaiter !== null)
      return Promise.reject(new ASGIContractError("receive() called again before the last one resolved"));
    this.watchClientGone();
    return new Promise((resolve) => {
      this.disconnectWaiter = resolve;
    });
  }

  private watchClientGone(): void {
    if (this.watchingGone) return;
    this.watchingGone = true;
    this.ex.onClientGone(() => {
      this.bodyFailed = true;
      this.deliver();
      this.releaseWaiters();
    });
  }

  /** The exchange is over (response complete or client gone): wake whoever waits. */
  private releaseWaiters(): void {
    const waiter = this.disconnectWaiter;
    this.disconnectWaiter = null;
    if (waiter !== null) waiter(DISCONNECT);
    const drain = this.drainWaiter;
    this.drainWaiter = null;
    if (drain !== null) drain.reject(new ASGIDisconnectedError("the client disconnected"));
  }

  // ---- send ---------------------------------------------------------------------------------

  private drainWaiter: { resolve: () => void; reject: (err: Error) => void } | null = null;

  readonly send = (event: SendEvent): Promise<void> => {
    try {
      return this.sendEvent(event);
    } catch (err) {
      return Promise.reject(err);
    }
  };

  private sendEvent(event: SendEvent): Promise<void> {
    if (event === null || typeof event !== "object" || typeof event.type !== "string") {
      throw new ASGIContractError("send() takes an event object with a string type");
    }
    const ex = this.ex;
    if (this.phase === "complete") {
      throw new ASGIContractError(`unexpected ${event.type}: the response is already complete`);
    }
    if (ex.finished) throw new ASGIDisconnectedError("the client disconnected");
    switch (this.phase) {
      case "start": {
        if (event.type !== "http.response.start") {
          throw new ASGIContractError(`expected http.response.start, got ${event.type}`);
        }
        const { status, headers, trailers } = event;
        if (!Number.isInteger(status))
          throw new ASGIContractError("http.response.start: status must be an integer");
        if (trailers === true) {
          throw new ASGIContractError(
            "http.response.start: trailers are not supported (no http.response.trailers extension)",
          );
        }
        this.head = { status, headers: flatHeaders(headers) };
        this.phase = "started";
        return Promise.resolve();
      }
      default: {
        if (event.type !== "http.response.body") {
          throw new ASGIContractError(`expected http.response.body, got ${event.type}`);
        }
        const body = bodyBytes(event.body, event.type);
        const more = event.more_body === true;
        if (this.phase === "started") {
          const head = this.head!;
          if (!more) {
            // The common case: the whole response in one write, with Content-Length.
            ex.respond(head, body);
            this.phase = "complete";
            this.releaseWaiters();
            return Promise.resolve();
          }
          ex.respond(head);
          this.phase = "streaming";
        }
        const room = body.length === 0 || ex.write(body);
        if (ex.finished) throw new ASGIDisconnectedError("the client disconnected");
        if (!more) {
          ex.end();
          this.phase = "complete";
          this.releaseWaiters();
          return Promise.resolve();
        }
        return room ? Promise.resolve() : this.waitForDrain();
      }
    }
  }

  /** Resolves when the socket drained; rejects if the client leaves first. */
  private waitForDrain(): Promise<void> {
    this.watchClientGone();
    return new Promise((resolve, reject) => {
      this.drainWaiter = { resolve, reject };
      this.ex.onDrain(() => {
        const waiter = this.drainWaiter;
        this.drainWaiter = null;
        if (waiter !== null) waiter.resolve();
      });
    });
  }

  // ---- the app's end ------------------------------------------------------------------------

  private returned(): void {
    const ex = this.ex;
    if (this.phase === "complete" || ex.finished) return;
    // uvicorn: "ASGI callable returned without starting/completing response".
    const err = new ASGIContractError(
      this.phase === "start"
        ? "the app returned without sending a response"
        : "the app returned without completing the response",
    );
    ex.fail(err);
  }

  private failed(err: unknown): void {
    const ex = this.ex;
    this.releaseWaiters();
    if (err instanceof ASGIDisconnectedError && ex.clientGone) {
      this.logger.debug(`${ex.request.method} ${ex.request.target}: the client disconnected`);
      return;
    }
    // A 500 if nothing went out, else the connection is closed; logged once either way.
    ex.fail(err);
  }
}
