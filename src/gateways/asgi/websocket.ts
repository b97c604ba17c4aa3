/**
 * The websocket scope over one Exchange and, once accepted, its
 * WebSocketSession. The handshake is checked before the app is called (a bad
 * one is answered 400/426/503 without it, as uvicorn does); then receive()
 * gives `websocket.connect`, and the app accepts, closes (HTTP 403), or sends
 * its own denial response. After accept, messages queue for receive() with
 * backpressure, and send() writes them, waiting when the socket is full.
 */

import type { ResponseHead } from "../../http1/events.ts";
import type { Exchange } from "../../server/exchange.ts";
import type { Logger } from "../../server/log.ts";
import type { WebSocketHandler, WebSocketSession } from "../../server/websocket.ts";
import { HandshakeError, WebSocketUsageError } from "../../websocket/errors.ts";
import type { TextMessage } from "../../websocket/events.ts";
import type { HandshakeRequest } from "../../websocket/handshake.ts";
import { ASGIContractError, ASGIDisconnectedError } from "./errors.ts";
import { bodyBytes, flatHeaders, websocketScope } from "./scope.ts";
import { appCallables } from "./trace.ts";
import type {
  ASGIApp,
  ASGIState,
  ReceiveEvent,
  SendEvent,
  WebSocketReceiveEvent,
  WebSocketReceiveEvents,
} from "./types.ts";

/**
 * Messages that may wait for receive() before the session stops reading the
 * socket: enough to smooth out bursts, few enough that a slow app holds back
 * the client (through TCP) instead of growing our memory.
 */
const MAX_QUEUED = 8;
/**
 * The same in bytes (text in its UTF-8 bytes as received): a few
 * large messages pause delivery as eight small ones do. One message over it
 * is still delivered; it pauses the session until the app has taken it.
 */
const MAX_QUEUED_BYTES = 1024 * 1024;
/** RFC 6455 §7.4.1: the connection closed without a close frame. */
const ABNORMAL = 1006;
/** RFC 6455 §7.4.1: the server hit an unexpected condition (the app raised). */
const INTERNAL_ERROR = 1011;

/**
 * Where the WebSocket stands: `connecting` until the app has received
 * websocket.connect; `handshake` until it accepts or refuses; `denying` while
 * its denial response streams; `open` after accept; `closing` after the app's
 * websocket.close; `closed` once the connection is over.
 */
type Phase = "connecting" | "handshake" | "denying" | "open" | "closing" | "closed";

/**
 * A websocket.receive event for a text message whose string is decoded only
 * if the app reads `text` (it was checked as UTF-8 on arrival). `text` is an
 * own enumerable property, a getter, so spreading or serializing the event
 * sees the string; assigning to it replaces it with a plain value. A string
 * read from it and sent back goes out from the received bytes (core's text.ts).
 */
function textReceiveEvent(message: TextMessage): WebSocketReceiveEvent {
  return {
    type: "websocket.receive",
    bytes: null,
    get text(): string {
      return message.data;
    },
    set text(value: string | null) {
      Object.defineProperty(this, "text", { value, writable: true, enumerable: true, configurable: true });
    },
  };
}

/** Runs the app for a WebSocket request, or answers a bad handshake without it. */
export function handleWebSocket(app: ASGIApp, ex: Exchange, state: ASGIState, logger: Logger): void {
  let handshake: HandshakeRequest;
  try {
    handshake = ex.checkWebSocket();
  } catch (err) {
    if (!(err instanceof HandshakeError)) throw err;
    ex.respond(
      { status: err.status, headers: ["Content-Type", "text/plain; charset=utf-8", ...err.headers] },
      Buffer.from(`${err.status} ${err.message}\n`, "utf8"),
    );
    return;
  }
  new WebSocketRun(ex, logger).run(app, websocketScope(ex.request, ex.info, state, handshake.protocols));
}

/** One WebSocket: the state receive(), send() and the session's callbacks share. */
class WebSocketRun implements WebSocketHandler {
  private phase: Phase = "connecting";
  private session: WebSocketSession | null = null;
  private queue: WebSocketReceiveEvents[] = [];
  /** Bytes of each message in `queue` (0 for other events), counted without decoding text. */
  private queueSizes: number[] = [];
  /** Message bytes in `queue`. */
  private queuedBytes = 0;
  private paused = false;
  private waiter: ((event: WebSocketReceiveEvents) => void) | null = null;
  /** The disconnect event, once the connection is over. */
  private ended: WebSocketReceiveEvents | null = null;
  /** The denial response's head, until its first body event. */
  private denial: ResponseHead | null = null;
  /** Settles a denial body send() waiting for 'drain' (the exchange never calls back if the client leaves). */
  private denialDrained: (() => void) | null = null;

  constructor(
    private readonly ex: Exchange,
    private readonly logger: Logger,
  ) {}

  run(app: ASGIApp, scope: ReturnType<typeof websocketScope>): void {
    let result: Promise<void>;
    try {
      const [receive, send] = appCallables(this.ex, scope, this.receive, this.send);
      result = Promise.resolve(app(scope, receive, send));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => this.returned(),
      (err) => this.failed(err),
    );
  }

  // ---- receive ------------------------------------------------------------------------------

  readonly receive = (): Promise<ReceiveEvent> => {
    if (this.phase === "connecting") {
      this.phase = "handshake";
      // Until the app answers, the client may give up: that is a disconnect too.
      this.ex.onClientGone(() => this.end(ABNORMAL, ""));
      return Promise.resolve({ type: "websocket.connect" });
    }
    const event = this.queue.shift();
    if (event !== undefined) {
      this.queuedBytes -= this.queueSizes.shift()!;
      if (this.paused && this.queue.length <= MAX_QUEUED / 2 && this.queuedBytes <= MAX_QUEUED_BYTES / 2) {
        this.paused = false;
        this.session?.resume();
      }
      return Promise.resolve(event);
    }
    if (this.ended !== null) return Promise.resolve(this.ended);
    if (this.waiter !== null) {
      return Promise.reject(new ASGIContractError("receive() called again before the last one resolved"));
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  };

  private push(event: WebSocketReceiveEvents, size = 0): void {
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter(event);
      return;
    }
    this.queue.push(event);
    this.queueSizes.push(size);
    this.queuedBytes += size;
    if (
      !this.paused &&
      (this.queue.length >= MAX_QUEUED || this.queuedBytes >= MAX_QUEUED_BYTES) &&
      this.session !== null
    ) {
      this.paused = true;
      this.session.pause();
    }
  }

  /** WebSocketHandler: a message from the client. */
  message(data: TextMessage | Uint8Array): void {
    if (data instanceof Uint8Array)
      this.push({ type: "websocket.receive", bytes: data, text: null }, data.length);
    else this.push(textReceiveEvent(data), data.bytes.length);
  }

  /** WebSocketHandler: the connection is over. */
  closed(code: number, reason: string): void {
    this.end(code, reason);
  }

  /** The connection is over: receive() gives websocket.disconnect after what is queued. */
  private end(code: number, reason: string): void {
    if (this.ended !== null) return;
    this.phase = "closed";
    this.ended = { type: "websocket.disconnect", code, reason };
    this.denialDrained?.();
    if (this.waiter !== null) this.push(this.ended);
  }

  // ---- send ---------------------------------------------------------------------------------

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
    switch (this.phase) {
      case "connecting":
        throw new ASGIContractError(`${event.type} before receiving websocket.connect`);
      case "handshake":
        return this.sendHandshake(event);
      case "denying":
        if (event.type !== "websocket.http.response.body") {
          throw new ASGIContractError(`expected websocket.http.response.body, got ${event.type}`);
        }
        return this.sendDenialBody(event.body, event.more_body === true);
      case "open":
        return this.sendOpen(event);
      case "closing":
        throw new ASGIContractError(`unexpected ${event.type}: the app already sent websocket.close`);
      case "closed":
        throw new ASGIDisconnectedError(`${event.type}: the WebSocket is closed`);
    }
  }

  private sendHandshake(event: SendEvent): Promise<void> {
    const ex = this.ex;
    switch (event.type) {
      case "websocket.accept": {
        const protocol = event.subprotocol ?? null;
        if (protocol !== null && typeof protocol !== "string") {
          throw new ASGIContractError("websocket.accept: subprotocol must be a string or null");
        }
        let session: WebSocketSession;
        try {
          session = ex.acceptWebSocket({ protocol, headers: flatHeaders(event.headers) });
        } catch (err) {
          // A subprotocol the client did not offer, or an invalid header: the app's mistake.
          if (err instanceof WebSocketUsageError)
            throw new ASGIContractError(`websocket.accept: ${err.message}`);
          throw err;
        }
        this.session = session;
        this.phase = "open";
        session.setHandler(this);
        return Promise.resolve();
      }
      case "websocket.close":
        // The spec's rule: a close before accept refuses the handshake with 403.
        ex.respond({ status: 403, headers: [] }, new Uint8Array(0));
        this.end(ABNORMAL, "");
        return Promise.resolve();
      case "websocket.http.response.start": {
        if (!Number.isInteger(event.status)) {
          throw new ASGIContractError("websocket.http.response.start: status must be an integer");
        }
        this.denial = { status: event.status, headers: flatHeaders(event.headers) };
        this.phase = "denying";
        return Promise.resolve();
      }
      default:
        throw new ASGIContractError(
          `expected websocket.accept, websocket.close or a denial response, got ${event.type}`,
        );
    }
  }

  private sendDenialBody(bodyValue: unknown, more: boolean): Promise<void> {
    const ex = this.ex;
    const body = bodyBytes(bodyValue, "websocket.http.response.body");
    if (ex.finished) throw new ASGIDisconnectedError("the client disconnected");
    const head = this.denial;
    if (head !== null) {
      this.denial = null;
      if (!more) {
        ex.respond(head, body);
        this.end(ABNORMAL, "");
        return Promise.resolve();
      }
      ex.respond(head);
    }
    const room = body.length === 0 || ex.write(body);
    if (!more) {
      if (!ex.finished) ex.end();
      this.end(ABNORMAL, "");
      return Promise.resolve();
    }
    if (room) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.denialDrained = null;
        resolve();
      };
      this.denialDrained = done;
      ex.onDrain(done);
    });
  }

  private sendOpen(event: SendEvent): Promise<void> {
    const session = this.session!;
    switch (event.type) {
      case "websocket.send": {
        const { bytes, text } = event;
        const hasBytes = bytes !== undefined && bytes !== null;
        const hasText = text !== undefined && text !== null;
        if (hasBytes === hasText) {
          throw new ASGIContractError("websocket.send: exactly one of bytes and text must be set");
        }
        if (hasBytes && !(bytes instanceof Uint8Array)) {
          throw new ASGIContractError("websocket.send: bytes must be a Uint8Array");
        }
        if (hasText && typeof text !== "string")
          throw new ASGIContractError("websocket.send: text must be a string");
        if (session.readyState !== 1)
          throw new ASGIDisconnectedError("websocket.send: the WebSocket is closing");
        if (session.send(hasText ? text! : bytes!)) return Promise.resolve();
        // Over the high-water mark: resolve once the socket drained (or closed).
        return new Promise((resolve) => session.onDrain(resolve));
      }
      case "websocket.close": {
        const code = event.code ?? 1000;
        const reason = event.reason ?? "";
        try {
          session.close(code, reason);
        } catch (err) {
          if (err instanceof WebSocketUsageError)
            throw new ASGIContractError(`websocket.close: ${err.message}`);
          throw err;
        }
        if (this.phase === "open") this.phase = "closing";
        return Promise.resolve();
      }
      default:
        throw new ASGIContractError(`unexpected ${event.type} on an accepted WebSocket`);
    }
  }

  // ---- the app's end ------------------------------------------------------------------------

  /** The app returned: an unanswered handshake is a 500 (uvicorn); an open WebSocket is closed normally. */
  private returned(): void {
    switch (this.phase) {
      case "connecting":
      case "handshake":
      case "denying":
        if (!this.ex.finished) {
          this.ex.fail(new ASGIContractError("the app returned without accepting or refusing the WebSocket"));
        }
        return;
      case "open":
        this.session!.close(1000, "");
        return;
      default:
        return;
    }
  }

  /** The app raised: a 500 before accept, a 1011 close after it. */
  private failed(err: unknown): void {
    if (err instanceof ASGIDisconnectedError && this.phase === "closed") {
      this.logger.debug(`websocket ${this.ex.request.target}: the client disconnected`);
      return;
    }
    switch (this.phase) {
      case "connecting":
      case "handshake":
      case "denying":
        if (!this.ex.finished) this.ex.fail(err);
        else this.logger.error(`error in the websocket app for ${this.ex.request.target}`, err);
        return;
      case "open":
        this.logger.error(`error in the websocket app for ${this.ex.request.target}`, err);
        this.session!.close(INTERNAL_ERROR, "");
        return;
      default:
        this.logger.error(`error in the websocket app for ${this.ex.request.target}`, err);
    }
  }
}
