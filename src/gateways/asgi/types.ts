/**
 * The types of the ASGI-style interface: ASGI 3.0 (https://asgi.readthedocs.io)
 * carried over to TypeScript. Scopes and events keep the spec's names,
 * snake_case fields included, so an ASGI app reads the same in both
 * languages. Python byte strings are `Uint8Array`; Python `str` is `string`.
 * docs/interfaces/asgi.md specifies the interface in prose.
 */

// ---- the application ------------------------------------------------------------------------

/**
 * An ASGI-style app: called once per connection scope (one HTTP request, one
 * WebSocket, or the lifespan of the process) with the scope and two async
 * callables. `--interface auto` picks this interface for a function that
 * declares exactly three parameters.
 *
 * @example
 * export default async function app(scope: Scope, receive: Receive, send: Send) {
 *   if (scope.type !== "http") return;
 *   await send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] });
 *   await send({ type: "http.response.body", body: new TextEncoder().encode("hello\n") });
 * }
 */
export type ASGIApp = (scope: Scope, receive: Receive, send: Send) => Promise<void>;

/** Waits for the next event from the server (the spec's `receive` awaitable). */
export type Receive = () => Promise<ReceiveEvent>;

/**
 * Sends one event to the server (the spec's `send` awaitable). Resolves once
 * the event is handed to the socket and the socket has room for more; rejects
 * with an {@link import("./errors.ts").ASGIContractError} for an event the
 * protocol does not allow now, or an {@link import("./errors.ts").ASGIDisconnectedError}
 * once the client is gone.
 */
export type Send = (event: SendEvent) => Promise<void>;

// ---- bytes and headers ----------------------------------------------------------------------

/**
 * A header as the server gives it to the app: `[name, value]` as the bytes
 * on the wire, the name lower-cased. Order and duplicates are preserved.
 */
export type ASGIHeader = [name: Uint8Array, value: Uint8Array];

/**
 * A header as the app gives it to the server. Bytes as in the spec; a string
 * is accepted too and sent as latin-1 (one char per byte), because building
 * bytes for every header is noise in JavaScript. Names should be lower-case;
 * the server sends them as given.
 */
export type ASGIHeaderInput = readonly [name: Uint8Array | string, value: Uint8Array | string];

// ---- scopes ---------------------------------------------------------------------------------

/** The `asgi` key of every scope: the ASGI version and the version of the sub-specification. */
export interface ASGIVersions {
  /** Always `"3.0"`: apps are single callables `(scope, receive, send)`. */
  version: "3.0";
  /**
   * The version of the HTTP & WebSocket spec (`"2.5"`: accept headers, close
   * and disconnect reasons, send() raising after disconnect) or of the
   * lifespan spec (`"2.0"`).
   */
  spec_version: string;
}

/**
 * What the app may keep between lifespan startup and requests: the lifespan
 * scope's `state`, copied (shallowly) into every http and websocket scope.
 */
export type ASGIState = Record<string, unknown>;

/** Keys shared by the http and websocket scopes (the HTTP request that opened them). */
interface ConnectionScopeBase {
  asgi: ASGIVersions;
  /** `"1.0"` or `"1.1"`. */
  http_version: "1.0" | "1.1";
  /**
   * The path, percent-decoded and read as UTF-8 (invalid sequences become
   * U+FFFD); `"*"` for `OPTIONS *`, `""` for a CONNECT target.
   */
  path: string;
  /** The path exactly as sent (no query), as bytes. */
  raw_path: Uint8Array;
  /** The part after `?`, not decoded, as bytes; empty when absent. */
  query_string: Uint8Array;
  /** Where the app is mounted (WSGI's `SCRIPT_NAME`): always `""`. */
  root_path: string;
  /** Request headers, in order, names lower-cased. */
  headers: ASGIHeader[];
  /** The peer's `[address, port]`. */
  client: [host: string, port: number] | null;
  /** The local `[address, port]` the request arrived on. */
  server: [host: string, port: number | null] | null;
  /** A shallow copy of the lifespan `state` (empty when no lifespan ran). */
  state: ASGIState;
  /** Extensions the server supports, by name; each value holds the extension's own settings. */
  extensions: Record<string, Record<string, unknown>>;
}

/** One HTTP request. The scope lives until the response is complete or the client is gone. */
export interface HTTPScope extends ConnectionScopeBase {
  type: "http";
  /** The method as sent: methods are case-sensitive (RFC 9110 §9.1), so it is not upper-cased. */
  method: string;
  /** `"http"` (`"https"` once TLS lands). */
  scheme: "http" | "https";
}

/** One WebSocket, from the handshake request to the close. */
export interface WebSocketScope extends ConnectionScopeBase {
  type: "websocket";
  /** `"ws"` (`"wss"` once TLS lands). */
  scheme: "ws" | "wss";
  /** The subprotocols the client offered in `Sec-WebSocket-Protocol`, in order. */
  subprotocols: string[];
}

/** The life of the server process: startup before the first connection, shutdown after the last. */
export interface LifespanScope {
  type: "lifespan";
  asgi: ASGIVersions;
  /** An empty object the app may fill during startup; copied into every later scope. */
  state: ASGIState;
}

/** Every scope, discriminated on `type`. */
export type Scope = HTTPScope | WebSocketScope | LifespanScope;

// ---- http events ----------------------------------------------------------------------------

/** A piece of the request body (server → app). */
export interface HTTPRequestEvent {
  type: "http.request";
  /** The bytes; concatenate the pieces. */
  body: Uint8Array;
  /** More pieces follow; false on the last one. */
  more_body: boolean;
}

/**
 * The response status and headers (app → server). Nothing is written until
 * the first `http.response.body`, so the server can send a complete response
 * in one write.
 */
export interface HTTPResponseStartEvent {
  type: "http.response.start";
  /** The status code (200–999; 1xx interim responses are not supported). */
  status: number;
  /** Response headers, in order. Default none. */
  headers?: Iterable<ASGIHeaderInput>;
  /**
   * Whether trailers follow the body (the `http.response.trailers`
   * extension). tsgi does not offer that extension: true is refused.
   */
  trailers?: boolean;
}

/** A piece of the response body (app → server). */
export interface HTTPResponseBodyEvent {
  type: "http.response.body";
  /** The bytes. Default empty. */
  body?: Uint8Array;
  /** More pieces follow. Default false: the response is complete. */
  more_body?: boolean;
}

/**
 * The client is gone, or the response is complete (server → app). Every
 * receive() after the body returns this once that happens, and waits until it does.
 */
export interface HTTPDisconnectEvent {
  type: "http.disconnect";
}

// ---- websocket events -----------------------------------------------------------------------

/** The client asks to open the WebSocket (server → app): answer with accept, close, or a denial response. */
export interface WebSocketConnectEvent {
  type: "websocket.connect";
}

/** Completes the handshake (app → server). */
export interface WebSocketAcceptEvent {
  type: "websocket.accept";
  /** The subprotocol chosen, one the client offered (scope `subprotocols`). Default none. */
  subprotocol?: string | null;
  /** Extra headers for the 101 response. Default none. */
  headers?: Iterable<ASGIHeaderInput>;
}

/** A message from the client (server → app): exactly one of `bytes` and `text` is set. */
export interface WebSocketReceiveEvent {
  type: "websocket.receive";
  /** A binary message, else null. */
  bytes: Uint8Array | null;
  /** A text message, else null. */
  text: string | null;
}

/** A message to the client (app → server): exactly one of `bytes` and `text` must be set. */
export interface WebSocketSendEvent {
  type: "websocket.send";
  /** A binary message. */
  bytes?: Uint8Array | null;
  /** A text message. */
  text?: string | null;
}

/**
 * The WebSocket is closed (server → app), by either side or by the network.
 * Sent once; every later receive() returns it again.
 */
export interface WebSocketDisconnectEvent {
  type: "websocket.disconnect";
  /** The close code: the peer's, ours when we closed, 1005 for a close frame without one, 1006 when no close frame came. */
  code: number;
  /** The close reason ("" when none). */
  reason: string;
}

/**
 * Closes the WebSocket (app → server), or before accept refuses it with HTTP 403.
 */
export interface WebSocketCloseEvent {
  type: "websocket.close";
  /** The close code. Default 1000. */
  code?: number;
  /** The close reason, at most 123 bytes of UTF-8. Default "". */
  reason?: string | null;
}

/** Refuses the WebSocket with an HTTP response of the app's choosing (the denial response extension). */
export interface WebSocketHTTPResponseStartEvent {
  type: "websocket.http.response.start";
  /** The status code. */
  status: number;
  /** Response headers. Default none. */
  headers?: Iterable<ASGIHeaderInput>;
}

/** A piece of the denial response body. */
export interface WebSocketHTTPResponseBodyEvent {
  type: "websocket.http.response.body";
  /** The bytes. Default empty. */
  body?: Uint8Array;
  /** More pieces follow. Default false. */
  more_body?: boolean;
}

// ---- lifespan events ------------------------------------------------------------------------

/** The server is starting (server → app): set up, then send startup.complete or startup.failed. */
export interface LifespanStartupEvent {
  type: "lifespan.startup";
}

/** Startup is done (app → server); the server starts accepting connections. */
export interface LifespanStartupCompleteEvent {
  type: "lifespan.startup.complete";
}

/** Startup failed (app → server); the server exits with status 1 and `message`. */
export interface LifespanStartupFailedEvent {
  type: "lifespan.startup.failed";
  /** Why. Default "". */
  message?: string;
}

/** The server stopped accepting and every connection is closed (server → app): clean up. */
export interface LifespanShutdownEvent {
  type: "lifespan.shutdown";
}

/** Shutdown is done (app → server). */
export interface LifespanShutdownCompleteEvent {
  type: "lifespan.shutdown.complete";
}

/** Shutdown failed (app → server); logged, and the CLI exits with status 1. */
export interface LifespanShutdownFailedEvent {
  type: "lifespan.shutdown.failed";
  /** Why. Default "". */
  message?: string;
}

// ---- unions ---------------------------------------------------------------------------------

/** Events `receive()` returns in an http scope. */
export type HTTPReceiveEvent = HTTPRequestEvent | HTTPDisconnectEvent;
/** Events `send()` takes in an http scope. */
export type HTTPSendEvent = HTTPResponseStartEvent | HTTPResponseBodyEvent;

/** Events `receive()` returns in a websocket scope. */
export type WebSocketReceiveEvents = WebSocketConnectEvent | WebSocketReceiveEvent | WebSocketDisconnectEvent;
/** Events `send()` takes in a websocket scope. */
export type WebSocketSendEvents =
  | WebSocketAcceptEvent
  | WebSocketSendEvent
  | WebSocketCloseEvent
  | WebSocketHTTPResponseStartEvent
  | WebSocketHTTPResponseBodyEvent;

/** Events `receive()` returns in the lifespan scope. */
export type LifespanReceiveEvent = LifespanStartupEvent | LifespanShutdownEvent;
/** Events `send()` takes in the lifespan scope. */
export type LifespanSendEvent =
  | LifespanStartupCompleteEvent
  | LifespanStartupFailedEvent
  | LifespanShutdownCompleteEvent
  | LifespanShutdownFailedEvent;

/** Every event the server sends, discriminated on `type`. */
export type ReceiveEvent = HTTPReceiveEvent | WebSocketReceiveEvents | LifespanReceiveEvent;
/** Every event an app sends, discriminated on `type`. */
export type SendEvent = HTTPSendEvent | WebSocketSendEvents | LifespanSendEvent;
