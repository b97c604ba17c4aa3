/**
 * The state machine of one HTTP/1.1 connection, seen from the server, as one
 * table (the h11 way). Each side has its own state; an event moves one side,
 * and a few moves of one side are conditions of the other. docs/http1-states.md
 * is generated from this table by `npm run docs:states`.
 */

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
  /** This side has closed. */
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

/** Client side: what the peer may do next. */
export const CLIENT_TABLE: Readonly<Record<State, Partial<Record<Transition, State>>>> = {
  IDLE: { request: "SEND_BODY", close: "CLOSED", error: "ERROR" },
  SEND_RESPONSE: {},
  SEND_BODY: { data: "SEND_BODY", end: "DONE", error: "ERROR" },
  DONE: {
    next_cycle: "IDLE",
    no_reuse: "MUST_CLOSE",
    switch: "SWITCHED_PROTOCOL",
    close: "CLOSED",
    error: "ERROR",
  },
  MUST_CLOSE: { close: "CLOSED", error: "ERROR" },
  CLOSED: { error: "ERROR" },
  SWITCHED_PROTOCOL: {},
  ERROR: {},
};

/** Server side: what we (the app, through a gateway) may do next. */
export const SERVER_TABLE: Readonly<Record<State, Partial<Record<Transition, State>>>> = {
  // Error responses to unparseable requests are sent from IDLE.
  IDLE: { request: "SEND_RESPONSE", response: "SEND_BODY", close: "CLOSED", error: "ERROR" },
  SEND_RESPONSE: {
    informational: "SEND_RESPONSE",
    response: "SEND_BODY",
    switch: "SWITCHED_PROTOCOL",
    close: "CLOSED",
    error: "ERROR",
  },
  SEND_BODY: { data: "SEND_BODY", end: "DONE", close: "CLOSED", error: "ERROR" },
  DONE: { next_cycle: "IDLE", no_reuse: "MUST_CLOSE", close: "CLOSED", error: "ERROR" },
  MUST_CLOSE: { close: "CLOSED", error: "ERROR" },
  CLOSED: { error: "ERROR" },
  SWITCHED_PROTOCOL: {},
  ERROR: { close: "ERROR" },
};

/** Returns the state after `event`, or null when the table does not allow it. */
export function nextState(table: typeof CLIENT_TABLE, state: State, event: Transition): State | null {
  return table[state][event] ?? null;
}
