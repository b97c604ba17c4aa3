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
import type { WebSocketHandler, WebSocketSession } from "../../server/websocket.ts";
import type { HandshakeError } from "../../websocket/errors.ts";
import type { TextMessage } from "../../websocket/events.ts";
import { UPGRADE, upgradeResponse } from "./light-response.ts";
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

/**
 * The events a socket fires. Node's Event classes do not let anyone but
 * Node's own EventTarget set `target`, so each adds getters for it; they
 * remain `instanceof Event` (and `MessageEvent` for messages).
 */
class SocketEvent extends Event {
  readonly #socket: ServerWebSocket;
  constructor(type: string, socket: ServerWebSocket) {
    super(type);
    this.#socket = socket;
  }
  override get target(): ServerWebSocket {
    return this.#socket;
  }
  override get currentTarget(): ServerWebSocket {
    return this.#socket;
  }
}

/**
 * Event's constructor, typed as MessageEvent's. Message events are built by
 * Event's constructor and given MessageEvent's prototype afterwards (below):
 * on Node 22 and later the global MessageEvent is undici's, whose
 * constructor runs WebIDL dictionary conversions on every call, which
 * measured about 6 % of the server's CPU in the 8-in-flight echo benchmark
 * on Node 24, more than the whole WebSocket core. The few members
 * MessageEvent adds to Event are answered by the class itself.
 */
const EventAsMessageEvent = Event as unknown as typeof MessageEvent;
const NO_PORTS: MessageEvent["ports"] = Object.freeze([]);

/**
 * A message: `data` is a string, an ArrayBuffer or a Blob (see `binaryType`).
 * A received text message's string is decoded when `data` is first read (it
 * was checked as UTF-8 on arrival); sending that string back, or to other
 * sockets, reuses the received bytes instead of encoding it again. It is
 * `instanceof MessageEvent` and `instanceof Event`; `origin` and
 * `lastEventId` are "", `source` is null and `ports` is empty, as for a
 * browser's WebSocket message.
 */
export class WebSocketMessageEvent extends EventAsMessageEvent<string | ArrayBuffer | Blob> {
  readonly #socket: ServerWebSocket;
  readonly #data: string | ArrayBuffer | Blob;
  /** A received text message, decoded only if `data` is read (then `#data` is unused). */
  readonly #text: TextMessage | null;
  /**
   * `text`, when given, is the received message `data` comes from (the
   * gateway passes it; `data` is then ignored). Not told apart by
   * `instanceof`: the session may run another copy of tsgi than the app's.
   */
  constructor(socket: ServerWebSocket, data: string | ArrayBuffer | Blob, text: TextMessage | null = null) {
    super("message");
    this.#socket = socket;
    this.#data = data;
    this.#text = text;
  }
  override get data(): string | ArrayBuffer | Blob {
    const text = this.#text;
    return text !== null ? text.data : this.#data;
  }
  override get origin(): string {
    return "";
  }
  override get lastEventId(): string {
    return "";
  }
  override get source(): null {
    return null;
  }
  override get ports(): MessageEvent["ports"] {
    return NO_PORTS;
  }
  /** The legacy initializer is not supported on these events. */
  override initMessageEvent(): void {
    throw new DOMException("initMessageEvent() is not supported", "NotSupportedError");
  }
  override get target(): ServerWebSocket {
    return this.#socket;
  }
  override get currentTarget(): ServerWebSocket {
    return this.#socket;
  }
}
// instanceof MessageEvent holds; the members MessageEvent.prototype has are all overridden above.
Object.setPrototypeOf(WebSocketMessageEvent.prototype, MessageEvent.prototype);

/** The event a closed socket fires, with the WHATWG `CloseEvent` fields (Node 20 has no global CloseEvent). */
export class WebSocketCloseEvent extends SocketEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(socket: ServerWebSocket, code: number, reason: string, wasClean: boolean) {
    super("close", socket);
    this.code = code;
    this.reason = reason;
    this.wasClean = wasClean;
  }
}

type EventListenerFn = (event: Event) => void;
type Listener = EventListenerFn | { handleEvent(event: Event): void };
/** The options addEventListener takes (Node's types do not name them without the DOM lib). */
type ListenerOptions = { once?: boolean; passive?: boolean; signal?: AbortSignal; capture?: boolean };
type Handler<E> = ((this: ServerWebSocket, event: E) => unknown) | null;

/** One addEventListener registration. */
interface Registration {
  type: string;
  listener: Listener;
  once: boolean;
}

const UTF8 = new TextEncoder();

/** An upgrade the app asked for, waiting for its response to come back. */
interface PendingUpgrade {
  socket: ServerWebSocket;
  /** Carried by the upgrade response under UPGRADE, and by any rebuilt from it. */
  token: object;
  protocol: string | null;
}

/**
 * Pending upgrades by exchange, in one registry per process rather than per
 * copy of this module: an app importing `tsgi` may get another copy than the
 * server runs (a second install, or the sources next to a built CLI), and
 * the upgrade must work across them.
 */
const REGISTRY_KEY = Symbol.for("tsgi.fetch.pendingUpgrades");
const registryHolder = globalThis as { [REGISTRY_KEY]?: WeakMap<object, PendingUpgrade> };
registryHolder[REGISTRY_KEY] ??= new WeakMap();
const pendingUpgrades: WeakMap<object, PendingUpgrade> = registryHolder[REGISTRY_KEY];
/** Logs an error a socket listener threw to the socket's gateway's logger (the console without one). */
function reportListenerError(logger: Logger | null, err: unknown): void {
  // A throwing listener must not take the server down (Node's EventTarget
  // would rethrow it as an uncaught exception): log it, as browsers report it.
  if (logger !== null) logger.error("error in a WebSocket event listener", err);
  else console.error(err);
}

/**
 * A server-side WebSocket with the WHATWG `WebSocket` interface. Created by
 * {@link upgradeWebSocket}; it is CONNECTING until the app's response has
 * been returned and the 101 sent, then fires `open`.
 *
 * It is an `EventTarget` (`instanceof` holds) with its own listener list
 * rather than Node's: Node's costs two Maps and a closure per handler on
 * every socket, which is most of an idle connection's memory, and it turns
 * a throwing listener into an uncaught exception that would stop the server.
 * Here a throwing listener is logged and the others still run. Handler
 * attributes (`onmessage`, ...) run before listeners added with
 * addEventListener; there is no capture or bubbling (a socket has no parent).
 */
export class ServerWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  /** The URL of the request that opened the socket. */
  readonly url: string;
  /** How binary messages are delivered: `Blob` (the standard's default) or `ArrayBuffer`. */
  binaryType: "blob" | "arraybuffer" = "blob";

  #session: WebSocketSession | null = null;
  #state: 0 | 1 | 2 | 3 = 0;
  /** close() called while CONNECTING: done as soon as the socket opens. */
  #pendingClose: [number | undefined, string | undefined] | null = null;
  /** Blob sends convert asynchronously; later sends wait behind them to keep the order. */
  #blobQueue: Promise<void> | null = null;
  #blobBytes = 0;
  #onopen: Handler<Event> = null;
  #onmessage: Handler<WebSocketMessageEvent> = null;
  #onerror: Handler<Event> = null;
  #onclose: Handler<WebSocketCloseEvent> = null;
  /** addEventListener registrations, created on first use. */
  #listeners: Registration[] | null = null;
  /** Where errors thrown by listeners go: the logger of the gateway that served the upgrade. */
  #logger: Logger | null = null;

  /** @internal Created by upgradeWebSocket. */
  constructor(url: string) {
    this.url = url;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): 0 | 1 | 2 | 3 {
    return this.#state;
  }

  /** The subprotocol agreed on ("" for none). */
  get protocol(): string {
    return this.#session?.protocol ?? "";
  }

  /** The extensions agreed on, as sent in `Sec-WebSocket-Extensions` ("" for none). */
  get extensions(): string {
    return this.#session?.extensions ?? "";
  }

  /** Bytes passed to send() that have not been handed to the network yet. */
  get bufferedAmount(): number {
    return (this.#session?.bufferedAmount ?? 0) + this.#blobBytes;
  }

  get onopen(): Handler<Event> {
    return this.#onopen;
  }
  set onopen(handler: Handler<Event>) {
    this.#onopen = typeof handler === "function" ? handler : null;
  }
  get onmessage(): Handler<WebSocketMessageEvent> {
    return this.#onmessage;
  }
  set onmessage(handler: Handler<WebSocketMessageEvent>) {
    this.#onmessage = typeof handler === "function" ? handler : null;
  }
  get onerror(): Handler<Event> {
    return this.#onerror;
  }
  set onerror(handler: Handler<Event>) {
    this.#onerror = typeof handler === "function" ? handler : null;
  }
  get onclose(): Handler<WebSocketCloseEvent> {
    return this.#onclose;
  }
  set onclose(handler: Handler<WebSocketCloseEvent>) {
    this.#onclose = typeof handler === "function" ? handler : null;
  }

  /** Adds a listener (a function or an object with `handleEvent`); `once` and `signal` are honoured. */
  addEventListener(type: string, listener: Listener | null, options?: ListenerOptions | boolean): void {
    if (listener === null || listener === undefined) return;
    const opts = typeof options === "object" && options !== null ? options : {};
    if (opts.signal?.aborted) return;
    const list = this.#listeners ?? [];
    this.#listeners = list;
    // The same listener for the same type is added once (DOM rule).
    for (const r of list) if (r.type === type && r.listener === listener) return;
    list.push({ type, listener, once: opts.once === true });
    opts.signal?.addEventListener("abort", () => this.removeEventListener(type, listener), { once: true });
  }

  /** Removes a listener added with addEventListener. */
  removeEventListener(type: string, listener: Listener | null): void {
    const list = this.#listeners;
    if (list === null || listener === null) return;
    const i = list.findIndex((r) => r.type === type && r.listener === listener);
    if (i !== -1) list.splice(i, 1);
  }

  /**
   * Delivers `event` to the handler attribute of its type, then to the
   * listeners in the order they were added. Returns false if a listener
   * called preventDefault() on a cancelable event.
   */
  dispatchEvent(event: Event): boolean {
    this.#fire(event.type, event);
    return !event.defaultPrevented;
  }

  /**
   * dispatchEvent() for events we create, whose type we know: Node's Event
   * getters check their receiver on every read, which shows in a message's
   * cost.
   */
  #fire(type: string, event: Event): void {
    const handler =
      type === "message"
        ? this.#onmessage
        : type === "open"
          ? this.#onopen
          : type === "close"
            ? this.#onclose
            : type === "error"
              ? this.#onerror
              : null;
    const logger = this.#logger;
    if (handler !== null) invoke(this, handler as EventListenerFn, event, logger);
    const list = this.#listeners;
    if (list !== null && list.length > 0) {
      // A snapshot: listeners added or removed meanwhile do not change this dispatch.
      for (const r of list.slice()) {
        if (r.type !== type) continue;
        if (r.once) this.removeEventListener(type, r.listener);
        if (typeof r.listener === "function") invoke(this, r.listener, event, logger);
        else invoke(r.listener, r.listener.handleEvent, event, logger);
      }
    }
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

  /** @internal The gateway sent the 101: wire the session and fire `open`; listener errors go to `logger`. */
  attach(session: WebSocketSession, logger: Logger | null = null): void {
    this.#session = session;
    this.#logger = logger;
    const pendingClose = this.#pendingClose;
    this.#state = pendingClose === null ? 1 : 2;
    session.setHandler(new SessionBridge(this));
    if (pendingClose !== null) {
      session.close(pendingClose[0], pendingClose[1]);
      return;
    }
    this.#fire("open", new SocketEvent("open", this));
  }

  /** @internal The app returned another response, or the handshake failed: the socket never opens. */
  abandon(logger: Logger | null = null): void {
    if (this.#state === 3) return;
    this.#logger = logger;
    this.#state = 3;
    this.#fire("error", new SocketEvent("error", this));
    this.#fire("close", new WebSocketCloseEvent(this, 1006, "", false));
  }

  /** @internal A message from the session: text undecoded (the event decodes it if `data` is read). */
  deliver(data: TextMessage | Uint8Array): void {
    if (!(data instanceof Uint8Array)) {
      this.#fire("message", new WebSocketMessageEvent(this, "", data));
      return;
    }
    let payload: ArrayBuffer | Blob;
    if (this.binaryType === "arraybuffer") {
      payload =
        data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? (data.buffer as ArrayBuffer)
          : (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
    } else payload = new Blob([data]);
    this.#fire("message", new WebSocketMessageEvent(this, payload));
  }

  /** @internal The session is over. */
  ended(code: number, reason: string, wasClean: boolean): void {
    this.#state = 3;
    // The standard fires error before close when the connection failed.
    if (!wasClean) this.#fire("error", new SocketEvent("error", this));
    this.#fire("close", new WebSocketCloseEvent(this, code, reason, wasClean));
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

// instanceof EventTarget holds, and the constants live on the prototype as in the standard.
Object.setPrototypeOf(ServerWebSocket.prototype, EventTarget.prototype);
for (const [name, value] of [
  ["CONNECTING", 0],
  ["OPEN", 1],
  ["CLOSING", 2],
  ["CLOSED", 3],
] as const) {
  Object.defineProperty(ServerWebSocket.prototype, name, { value, enumerable: true });
}

/** Calls a listener; an exception is logged, never thrown into the server. */
function invoke(self: unknown, fn: EventListenerFn, event: Event, logger: Logger | null): void {
  try {
    fn.call(self, event);
  } catch (err) {
    reportListenerError(logger, err);
  }
}

/** What the session calls: one small object per socket instead of two closures. */
class SessionBridge implements WebSocketHandler {
  constructor(private readonly socket: ServerWebSocket) {}
  message(data: TextMessage | Uint8Array): void {
    this.socket.deliver(data);
  }
  closed(code: number, reason: string, wasClean: boolean): void {
    this.socket.ended(code, reason, wasClean);
  }
}

/** The exchange behind a request passed to a Fetch app, or null for any other Request. */
function exchangeOf(request: Request): Exchange | null {
  return LazyRequest.exchangeOf(request);
}

/** A HandshakeError from any copy of tsgi (see the registry above). */
export function isHandshakeError(err: unknown): err is HandshakeError {
  return err instanceof Error && (err as { code?: unknown }).code === "TSGI_ERR_WS_HANDSHAKE";
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
  // Deno's response says 101. Middleware may add headers to it, or rebuild it
  // with `new Response(body, response)` (Hono does): the rebuilt one carries
  // the same token, and its headers are the ones sent.
  const token = {};
  const response = upgradeResponse(options.headers, token);
  pendingUpgrades.set(ex, { socket, token, protocol: options.protocol ?? null });
  return { socket, response };
}

/**
 * @internal Called by the gateway with the app's response: if it is an
 * upgrade response, sends the 101 and opens the socket, and returns true.
 * Errors the socket's listeners throw go to `logger`, the gateway's.
 */
export function completeUpgrade(ex: Exchange, response: unknown, logger: Logger | null = null): boolean {
  const pending = pendingUpgrades.get(ex);
  if (pending === undefined) return false;
  pendingUpgrades.delete(ex);
  const socket = pending.socket;
  const token =
    typeof response === "object" && response !== null
      ? (response as { [UPGRADE]?: unknown })[UPGRADE]
      : undefined;
  if (token !== pending.token) {
    // The app made a socket but answered with another response: it never opens.
    socket.abandon(logger);
    return false;
  }
  const headers: string[] = [];
  for (const [name, value] of (response as Response).headers) headers.push(name, value);
  let session: WebSocketSession;
  try {
    session = ex.acceptWebSocket({ protocol: pending.protocol, headers });
  } catch (err) {
    socket.abandon(logger);
    if (isHandshakeError(err)) {
      respondHandshakeError(ex, err);
      return true;
    }
    throw err;
  }
  socket.attach(session, logger);
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
