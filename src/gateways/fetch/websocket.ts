/**
 * WebSockets for Fetch apps, in the shape Deno made common:
 * `upgradeWebSocket(request)` returns `{ socket, response }`; the app sets up
 * the socket and returns the response, and the gateway sends the 101 when it
 * gets that response back. The socket follows the WHATWG `WebSocket`
 * interface (events, `readyState`, `binaryType`, `bufferedAmount`, ...), so
 * browser habits carry over to the server side.
 */

import type { Exchange } from "../../server/exchange.ts";
import type { Logger } from "../../server/log.ts";
import type { WebSocketSession } from "../../server/websocket.ts";
import { HandshakeError } from "../../websocket/errors.ts";
import { NativeResponse } from "./light-response.ts";
import { LazyRequest } from "./request.ts";

/** Options of {@link upgradeWebSocket}. */
export interface UpgradeWebSocketOptions {
  /** The subprotocol to agree on; must be one the client offered (see `Sec-WebSocket-Protocol`). */
  protocol?: string;
  /** Extra headers for the 101 response (e.g. Set-Cookie). */
  headers?: ConstructorParameters<typeof Headers>[0];
}

/** What {@link upgradeWebSocket} returns: the socket to use and the response to return. */
export interface WebSocketUpgrade {
  socket: ServerWebSocket;
  response: Response;
}

/** The event a closed socket fires (Node 20 has no global CloseEvent). */
export class WebSocketCloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

const CloseEventClass: typeof WebSocketCloseEvent =
  (globalThis as { CloseEvent?: typeof WebSocketCloseEvent }).CloseEvent ?? WebSocketCloseEvent;

type EventListenerFn = (event: Event) => void;
type Listener = EventListenerFn | { handleEvent(event: Event): void };
/** The options addEventListener takes (Node's types do not name them without the DOM lib). */
type ListenerOptions = { once?: boolean; passive?: boolean; signal?: AbortSignal; capture?: boolean };
const HANDLER_TYPES = ["open", "message", "error", "close"] as const;
type HandlerType = (typeof HANDLER_TYPES)[number];
const UTF8 = new TextEncoder();

/** Responses returned by upgradeWebSocket, and the socket each one opens. */
const pendingUpgrades = new WeakMap<Response, ServerWebSocket>();
/** The logger sockets report listener errors to, set by the gateway. */
let listenerLogger: Logger | null = null;

/** @internal The Fetch gateway's logger receives errors thrown by socket listeners. */
export function setWebSocketLogger(logger: Logger): void {
  listenerLogger = logger;
}

function reportListenerError(err: unknown): void {
  // A throwing listener must not take the server down (Node's EventTarget
  // would rethrow it as an uncaught exception): log it, as browsers report it.
  if (listenerLogger !== null) listenerLogger.error("error in a WebSocket event listener", err);
  else console.error(err);
}

/**
 * A server-side WebSocket with the WHATWG `WebSocket` interface. Created by
 * {@link upgradeWebSocket}; it is CONNECTING until the app's response has
 * been returned and the 101 sent, then fires `open`.
 */
export class ServerWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  /** The URL of the request that opened the socket. */
  readonly url: string;
  /** How binary messages are delivered: `Blob` (the standard's default) or `ArrayBuffer`. */
  binaryType: "blob" | "arraybuffer" = "blob";

  #session: WebSocketSession | null = null;
  #state: 0 | 1 | 2 | 3 = 0;
  #protocol = "";
  #extensions = "";
  /** close() called while CONNECTING: done as soon as the socket opens. */
  #pendingClose: [number | undefined, string | undefined] | null = null;
  /** Blob sends convert asynchronously; later sends wait behind them to keep the order. */
  #blobQueue: Promise<void> | null = null;
  #blobBytes = 0;
  #handlers: Partial<Record<HandlerType, ((event: Event) => unknown) | null>> = {};
  #wrapped = new Map<string, Map<Listener, EventListenerFn>>();

  /** @internal Created by upgradeWebSocket. */
  constructor(url: string) {
    super();
    this.url = url;
    for (const type of HANDLER_TYPES) {
      super.addEventListener(type, (event) => {
        const handler = this.#handlers[type];
        if (typeof handler !== "function") return;
        try {
          handler.call(this, event);
        } catch (err) {
          reportListenerError(err);
        }
      });
    }
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): 0 | 1 | 2 | 3 {
    return this.#state;
  }

  /** The subprotocol agreed on ("" for none). */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions agreed on, as sent in `Sec-WebSocket-Extensions` ("" for none). */
  get extensions(): string {
    return this.#extensions;
  }

  /** Bytes passed to send() that have not been handed to the network yet. */
  get bufferedAmount(): number {
    return (this.#session?.bufferedAmount ?? 0) + this.#blobBytes;
  }

  get onopen(): ((event: Event) => unknown) | null {
    return this.#handlers.open ?? null;
  }
  set onopen(handler: ((event: Event) => unknown) | null) {
    this.#handlers.open = handler;
  }
  get onmessage(): ((event: MessageEvent) => unknown) | null {
    return (this.#handlers.message as (event: MessageEvent) => unknown) ?? null;
  }
  set onmessage(handler: ((event: MessageEvent) => unknown) | null) {
    this.#handlers.message = handler as (event: Event) => unknown;
  }
  get onerror(): ((event: Event) => unknown) | null {
    return this.#handlers.error ?? null;
  }
  set onerror(handler: ((event: Event) => unknown) | null) {
    this.#handlers.error = handler;
  }
  get onclose(): ((event: WebSocketCloseEvent) => unknown) | null {
    return (this.#handlers.close as (event: WebSocketCloseEvent) => unknown) ?? null;
  }
  set onclose(handler: ((event: WebSocketCloseEvent) => unknown) | null) {
    this.#handlers.close = handler as (event: Event) => unknown;
  }

  override addEventListener(
    type: string,
    listener: Listener | null,
    options?: ListenerOptions | boolean,
  ): void {
    if (listener === null) return;
    let byListener = this.#wrapped.get(type);
    if (byListener === undefined) {
      byListener = new Map();
      this.#wrapped.set(type, byListener);
    }
    let wrapped = byListener.get(listener);
    if (wrapped === undefined) {
      wrapped = (event: Event) => {
        try {
          if (typeof listener === "function") listener.call(this, event);
          else listener.handleEvent(event);
        } catch (err) {
          reportListenerError(err);
        }
      };
      byListener.set(listener, wrapped);
    }
    super.addEventListener(type, wrapped, options);
  }

  override removeEventListener(
    type: string,
    listener: Listener | null,
    options?: { capture?: boolean } | boolean,
  ): void {
    if (listener === null) return;
    const wrapped = this.#wrapped.get(type)?.get(listener);
    if (wrapped !== undefined) super.removeEventListener(type, wrapped, options);
  }

  /**
   * Sends a message: a string as text, bytes (ArrayBuffer, a view, a Blob) as
   * binary. Throws InvalidStateError while CONNECTING; after close() the data
   * is dropped, as the standard says.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#state === 0) throw new DOMException("the WebSocket is not open yet", "InvalidStateError");
    if (this.#state !== 1) return;
    if (typeof Blob !== "undefined" && data instanceof Blob) {
      this.#sendBlob(data);
      return;
    }
    const payload =
      typeof data === "string"
        ? data
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(data as ArrayBufferLike);
    if (this.#blobQueue !== null) {
      this.#blobQueue = this.#blobQueue.then(() => this.#session?.send(payload)).then(() => undefined);
      return;
    }
    this.#session!.send(payload);
  }

  /**
   * Starts the closing handshake. `code` must be 1000, 3000–4999 or one of
   * the registered codes an endpoint may send, 1001–1003 and 1007–1014
   * (InvalidAccessError otherwise), and `reason` at most 123 UTF-8 bytes
   * (SyntaxError otherwise). The standard allows browsers only 1000 and
   * 3000–4999 so page scripts cannot pose as the browser's own protocol
   * failures; a server is the endpoint that RFC 6455 §7.4.1 has send 1008
   * (policy), 1009 (too big), 1011 or 1013 (try again later), so it may.
   */
  close(code?: number, reason?: string): void {
    if (
      code !== undefined &&
      !(code >= 1000 && code <= 1003) &&
      !(code >= 1007 && code <= 1014) &&
      !(code >= 3000 && code <= 4999)
    ) {
      throw new DOMException(`invalid close code ${code}`, "InvalidAccessError");
    }
    if (reason !== undefined && UTF8.encode(reason).length > 123) {
      throw new DOMException("close reason longer than 123 bytes", "SyntaxError");
    }
    if (this.#state === 2 || this.#state === 3) return;
    if (this.#state === 0) {
      this.#pendingClose = [code, reason];
      this.#state = 2;
      return;
    }
    this.#state = 2;
    this.#session!.close(code, reason);
  }

  /** @internal The gateway sent the 101: wire the session and fire `open`. */
  attach(session: WebSocketSession): void {
    this.#session = session;
    this.#protocol = session.protocol;
    this.#extensions = session.extensions;
    const pendingClose = this.#pendingClose;
    this.#state = pendingClose === null ? 1 : 2;
    session.setHandler({
      message: (data) => this.#onMessage(data),
      closed: (code, reason, wasClean) => this.#onClosed(code, reason, wasClean),
    });
    if (pendingClose !== null) {
      session.close(pendingClose[0], pendingClose[1]);
      return;
    }
    this.dispatchEvent(new Event("open"));
  }

  /** @internal The app returned another response, or the handshake failed: the socket never opens. */
  abandon(): void {
    if (this.#state === 3) return;
    this.#state = 3;
    this.dispatchEvent(new Event("error"));
    this.dispatchEvent(new CloseEventClass("close", { code: 1006, reason: "", wasClean: false }));
  }

  #onMessage(data: string | Uint8Array): void {
    let payload: string | ArrayBuffer | Blob;
    if (typeof data === "string") payload = data;
    else if (this.binaryType === "arraybuffer") {
      payload =
        data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? (data.buffer as ArrayBuffer)
          : (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
    } else payload = new Blob([data]);
    this.dispatchEvent(new MessageEvent("message", { data: payload }));
  }

  #onClosed(code: number, reason: string, wasClean: boolean): void {
    this.#state = 3;
    // The standard fires error before close when the connection failed.
    if (!wasClean) this.dispatchEvent(new Event("error"));
    this.dispatchEvent(new CloseEventClass("close", { code, reason, wasClean }));
  }

  #sendBlob(blob: Blob): void {
    this.#blobBytes += blob.size;
    const previous = this.#blobQueue ?? Promise.resolve();
    const queued = previous
      .then(() => blob.arrayBuffer())
      .then((buffer) => {
        this.#blobBytes -= blob.size;
        if (this.#state === 1) this.#session?.send(new Uint8Array(buffer));
      });
    this.#blobQueue = queued;
    void queued.finally(() => {
      if (this.#blobQueue === queued) this.#blobQueue = null;
    });
  }
}

/** The exchange behind a request passed to a Fetch app, or null for any other Request. */
function exchangeOf(request: Request): Exchange | null {
  return LazyRequest.exchangeOf(request);
}

/**
 * Upgrades a request to a WebSocket, in Deno's shape: set up `socket`, then
 * return `response` from the handler. The 101 goes out when the gateway gets
 * the response back; `socket` fires `open` then.
 *
 * @throws HandshakeError (status 400, 426 or 503) when the request is not a
 *   valid WebSocket handshake or the server is full; if the app lets it
 *   escape, the gateway answers with that status.
 * @throws TypeError if `request` is not one tsgi passed to the app.
 *
 * @example
 * export default {
 *   fetch(request: Request) {
 *     const { socket, response } = upgradeWebSocket(request);
 *     socket.onmessage = (event) => socket.send(event.data);
 *     return response;
 *   },
 * };
 */
export function upgradeWebSocket(request: Request, options: UpgradeWebSocketOptions = {}): WebSocketUpgrade {
  const ex = exchangeOf(request);
  if (ex === null) throw new TypeError("upgradeWebSocket() needs the Request tsgi passed to the app");
  const handshake = ex.checkWebSocket();
  if (options.protocol !== undefined && !handshake.protocols.includes(options.protocol)) {
    throw new TypeError(`the client did not offer the subprotocol "${options.protocol}"`);
  }
  const socket = new ServerWebSocket(request.url);
  const response = new NativeResponse(null, { status: 200, headers: options.headers });
  // Deno's response says 101; the Fetch standard's constructor refuses 1xx, so set it afterwards.
  Object.defineProperty(response, "status", { value: 101 });
  pendingUpgrades.set(response, socket);
  upgradeProtocols.set(socket, options.protocol ?? null);
  socketsByExchange.set(ex, socket);
  return { socket, response };
}

const upgradeProtocols = new WeakMap<ServerWebSocket, string | null>();
/** The socket an exchange's app created, until its response comes back. */
const socketsByExchange = new WeakMap<Exchange, ServerWebSocket>();

/**
 * @internal Called by the gateway with the app's response: if it is an
 * upgrade response, sends the 101 and opens the socket, and returns true.
 */
export function completeUpgrade(ex: Exchange, response: unknown): boolean {
  const created = socketsByExchange.get(ex);
  if (created === undefined) return false;
  socketsByExchange.delete(ex);
  const socket = response instanceof NativeResponse ? pendingUpgrades.get(response) : undefined;
  if (socket !== created) {
    // The app made a socket but answered with another response: it never opens.
    created.abandon();
    return false;
  }
  pendingUpgrades.delete(response as Response);
  const accepted = response as Response;
  const headers: string[] = [];
  for (const [name, value] of accepted.headers) headers.push(name, value);
  let session: WebSocketSession;
  try {
    session = ex.acceptWebSocket({ protocol: upgradeProtocols.get(socket) ?? null, headers });
  } catch (err) {
    socket.abandon();
    if (err instanceof HandshakeError) {
      respondHandshakeError(ex, err);
      return true;
    }
    throw err;
  }
  socket.attach(session);
  return true;
}

/** Answers a failed handshake with its status. */
export function respondHandshakeError(ex: Exchange, err: HandshakeError): void {
  ex.respond(
    {
      status: err.status,
      headers: ["Content-Type", "text/plain; charset=utf-8", ...err.headers],
    },
    Buffer.from(`${err.status} ${err.message}\n`, "utf8"),
  );
}
