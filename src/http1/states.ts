/**
 * Every state of the HTTP/1.1 core, in one file: the h11-style table of the
 * two sides of a connection, and the smaller machines that run beside it
 * (Expect: 100-continue, keep-alive, the response's framing, the request
 * parser's own states). `ServerConnection` (connection.ts) and
 * `RequestParser` (parser.ts) change state only along the edges listed here;
 * docs/http1-states.md is generated from this file by `npm run docs:states`.
 */

// ---- 1. The two sides of the connection (as in h11) -------------------------

/** States of either side of the connection. */
export type State =
  /** Waiting for the next request (client) / for a request to answer (server). */
  | "IDLE"
  /** Server only: a request head arrived; no final response head sent yet. */
  | "SEND_RESPONSE"
  /** Sending a message body. */
  | "SEND_BODY"
  /** This side's message is complete. */
  | "DONE"
  /** This side's message is complete and the connection will not be reused. */
  | "MUST_CLOSE"
  /** Client only: the peer closed its sending side between requests. */
  | "CLOSED"
  /** A 101 response switched the connection to another protocol (WebSocket); HTTP is over. */
  | "SWITCHED_PROTOCOL"
  /** A protocol error happened; the connection can only be closed. */
  | "ERROR";

/** What moves a side from one state to the next. */
export type Transition =
  | "request" // client sent a request head
  | "data" // a body piece
  | "end" // end of message
  | "informational" // server sent a 1xx (stays put)
  | "response" // server sent a final response head
  | "close" // this side closed
  | "next_cycle" // both DONE and keep-alive: start over
  | "no_reuse" // the connection will close after this exchange
  | "switch" // server sent 101 Switching Protocols to an upgrade request
  | "error";

/** A state machine as data: for each state, the events it accepts and where they lead. */
export type Table<S extends string, T extends string> = Readonly<Record<S, Partial<Record<T, S>>>>;

/**
 * Client side: what the peer may do next. It moves on the parser's events;
 * `error` is a request the parser refused (any state the parser can fail in).
 */
export const CLIENT_TABLE: Table<State, Transition> = {
  IDLE: { request: "SEND_BODY", close: "CLOSED", error: "ERROR" },
  SEND_RESPONSE: {},
  SEND_BODY: { data: "SEND_BODY", end: "DONE", error: "ERROR" },
  // From DONE and MUST_CLOSE the parser answers PAUSED, never "closed", until
  // the next cycle: no `close` edge there.
  DONE: { next_cycle: "IDLE", no_reuse: "MUST_CLOSE", switch: "SWITCHED_PROTOCOL", error: "ERROR" },
  MUST_CLOSE: { error: "ERROR" },
  // Asked again after the close, the answer stays "closed" (as in h11).
  CLOSED: { close: "CLOSED", error: "ERROR" },
  SWITCHED_PROTOCOL: {},
  // A refused parser refuses again when asked again.
  ERROR: { error: "ERROR" },
};

/**
 * Server side: what we (the app, through a gateway) may do next. Our side
 * never moves on `close`: the I/O layer closes the socket without telling
 * the core, so the server side has no way to CLOSED.
 */
export const SERVER_TABLE: Table<State, Transition> = {
  // Error responses to unparseable requests are sent from IDLE.
  IDLE: { request: "SEND_RESPONSE", response: "SEND_BODY", error: "ERROR" },
  SEND_RESPONSE: {
    informational: "SEND_RESPONSE", // 100 Continue (see CONTINUE_TABLE)
    response: "SEND_BODY",
    switch: "SWITCHED_PROTOCOL",
    error: "ERROR",
  },
  SEND_BODY: { data: "SEND_BODY", end: "DONE", error: "ERROR" },
  DONE: { next_cycle: "IDLE", no_reuse: "MUST_CLOSE", error: "ERROR" },
  MUST_CLOSE: { error: "ERROR" },
  CLOSED: { error: "ERROR" },
  SWITCHED_PROTOCOL: {},
  ERROR: {},
};

/** Returns the state after `event`, or null when the table does not allow it. */
export function nextState<S extends string, T extends string>(
  table: Table<S, T>,
  state: S,
  event: T,
): S | null {
  return table[state][event] ?? null;
}

/**
 * The edges of one event of a table, as two parallel arrays: `from[i]`
 * moves to `to[i]`. The same table read by event rather than by state, so
 * that a hot caller that knows its event (every call site does) follows an
 * edge with a pointer comparison or two instead of two keyed lookups with
 * variable strings.
 */
export interface Edges<S extends string, T extends string> {
  readonly table: Table<S, T>;
  readonly event: T;
  readonly from: readonly S[];
  readonly to: readonly S[];
}

/**
 * Every event of `table` with its edges ({@link Edges}); built once, at
 * module load. An event no state of the table accepts gets no edges.
 */
export function edgesByEvent<S extends string, T extends string>(
  table: Table<S, T>,
): Readonly<Record<T, Edges<S, T>>> {
  const out = {} as Record<T, { table: Table<S, T>; event: T; from: S[]; to: S[] }>;
  const states = Object.keys(table) as S[];
  for (const state of states) {
    for (const event of Object.keys(table[state]) as T[]) out[event] = { table, event, from: [], to: [] };
  }
  for (const state of states) {
    for (const [event, next] of Object.entries(table[state]) as [T, S][]) {
      out[event].from.push(state);
      out[event].to.push(next);
    }
  }
  return out;
}

/** The state after following `edges` from `state`, or null when the table has no such edge (as {@link nextState}). */
export function follow<S extends string, T extends string>(edges: Edges<S, T>, state: S): S | null {
  const from = edges.from;
  for (let i = 0; i < from.length; i++) if (from[i] === state) return edges.to[i]!;
  return null;
}

// ---- 2. Expect: 100-continue (RFC 9110 §10.1.1) -----------------------------

/** Where the client stands with `Expect: 100-continue`, for the request being answered. */
export type ContinueState =
  /** The request did not ask for 100 Continue (or it was answered). */
  | "NOT_EXPECTED"
  /** The client waits for `100 Continue` before it sends the body. */
  | "WAITING"
  /** We sent `100 Continue`; the body may follow. */
  | "SENT";

/** What moves the 100-continue state. */
export type ContinueTransition =
  | "request" // a request head without Expect: 100-continue (or without a body)
  | "expect" // a request head with Expect: 100-continue and a body
  | "informational" // we sent 100 Continue
  | "response" // we sent the final response (a WAITING client now may or may not send its body: close after)
  | "switch" // we sent 101
  | "next_cycle";

/** The 100-continue machine; `informational` here goes with `informational` of SERVER_TABLE. */
export const CONTINUE_TABLE: Table<ContinueState, ContinueTransition> = {
  NOT_EXPECTED: {
    request: "NOT_EXPECTED",
    expect: "WAITING",
    response: "NOT_EXPECTED",
    switch: "NOT_EXPECTED",
    next_cycle: "NOT_EXPECTED",
  },
  WAITING: { informational: "SENT", response: "NOT_EXPECTED", switch: "NOT_EXPECTED" },
  SENT: { response: "NOT_EXPECTED", switch: "NOT_EXPECTED" },
};

// ---- 3. Keep-alive (RFC 9112 §9.3) ------------------------------------------

/** Whether the exchange under way leaves the connection open for another one. */
export type KeepAliveState =
  /** Reuse allowed so far (read by `willKeepAlive`). */
  | "KEEP_ALIVE"
  /** The connection closes after this exchange; also the state before the first request. */
  | "CLOSE";

/** What moves the keep-alive state. */
export type KeepAliveTransition =
  | "request_keep_alive" // a request head that allows reuse (HTTP/1.1 without close, HTTP/1.0 with keep-alive)
  | "request_close" // a request head that does not
  | "no_reuse" // we decided to close: app's Connection: close, shutdown, unanswered 100-continue, tunnel, error response, 101
  | "next_cycle";

/**
 * The keep-alive machine. When it is CLOSE at the end of a message, that side
 * moves on `no_reuse` to MUST_CLOSE in the tables above.
 */
export const KEEP_ALIVE_TABLE: Table<KeepAliveState, KeepAliveTransition> = {
  KEEP_ALIVE: {
    request_keep_alive: "KEEP_ALIVE",
    request_close: "CLOSE",
    no_reuse: "CLOSE",
    next_cycle: "KEEP_ALIVE",
  },
  CLOSE: { request_keep_alive: "KEEP_ALIVE", request_close: "CLOSE", no_reuse: "CLOSE" },
};

// ---- 4. Framing of our response body (RFC 9112 §6.3) ------------------------
//
// Not a machine: one of these is chosen with each final response head and
// holds while our side is in SEND_BODY; `next_cycle` resets it to NO_BODY.
// Plain numbers: `sendData()` switches on it for every body piece.

/** No body bytes go out (HEAD, 204, 304, 2xx to CONNECT, 101). */
export const NO_BODY = 0;
/** Content-Length: exactly that many bytes. */
export const LENGTH = 1;
/** Transfer-Encoding: chunked (HTTP/1.1 clients, length unknown). */
export const CHUNKED = 2;
/** Delimited by closing the connection (HTTP/1.0 clients, length unknown). */
export const UNTIL_CLOSE = 3;
/** One of the four constants above. */
export type ResponseFraming = typeof NO_BODY | typeof LENGTH | typeof CHUNKED | typeof UNTIL_CLOSE;

// ---- 5. The request parser (RequestParser) ----------------------------------
//
// Plain numbers: the parser's switch on them is the hottest in the server.
// Every assignment of the parser's state follows an edge of PARSER_TABLE
// (test/http1/states.test.ts watches it). A refused request leaves the
// parser where it failed, unusable; the connection's client side is then ERROR.

/** Reading the request line and header section. */
export const HEAD = 0;
/** Reading a Content-Length body. */
export const BODY_LENGTH = 1;
/** Reading a chunk-size line. */
export const CHUNK_SIZE = 2;
/** Reading chunk data. */
export const CHUNK_DATA = 3;
/** Expecting the CRLF after chunk data. */
export const CHUNK_DATA_END = 4;
/** Reading the trailer section after the last chunk. */
export const TRAILERS = 5;
/** Body complete, EndOfMessage not yet returned. */
export const END = 6;
/** Message returned whole; waiting for startNextCycle() (nextEvent() answers PAUSED). */
export const DONE = 7;

/** The parser's state names, indexed by the numbers above. */
export const PARSER_STATES = [
  "HEAD",
  "BODY_LENGTH",
  "CHUNK_SIZE",
  "CHUNK_DATA",
  "CHUNK_DATA_END",
  "TRAILERS",
  "END",
  "DONE",
] as const;
export type ParserState = (typeof PARSER_STATES)[number];

/** What moves the parser. */
export type ParserTransition =
  | "head_no_body" // a head without body (no framing field, or Content-Length: 0)
  | "head_length" // a head with Content-Length > 0
  | "head_chunked" // a head with Transfer-Encoding: chunked
  | "last_byte" // the last byte of a Content-Length body
  | "chunk_size" // a chunk-size line > 0
  | "last_chunk" // the chunk-size line 0
  | "chunk_data_end" // the last byte of a chunk's data
  | "crlf" // the CRLF after chunk data
  | "empty_line" // the empty line that ends the trailer section (EndOfMessage returned with it)
  | "end" // EndOfMessage returned
  | "next_cycle"; // startNextCycle()

/** The request parser's machine, by state name. */
export const PARSER_TABLE: Table<ParserState, ParserTransition> = {
  HEAD: { head_no_body: "END", head_length: "BODY_LENGTH", head_chunked: "CHUNK_SIZE" },
  BODY_LENGTH: { last_byte: "END" },
  CHUNK_SIZE: { chunk_size: "CHUNK_DATA", last_chunk: "TRAILERS" },
  CHUNK_DATA: { chunk_data_end: "CHUNK_DATA_END" },
  CHUNK_DATA_END: { crlf: "CHUNK_SIZE" },
  TRAILERS: { empty_line: "DONE" },
  END: { end: "DONE" },
  DONE: { next_cycle: "HEAD" },
};
