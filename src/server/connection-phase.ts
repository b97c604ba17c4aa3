import { InternalError } from "../http1/tsgi-error.ts";
/**
 * The phases of an HTTP connection's life on its socket, and the moves
 * between them. Kept apart from connection.ts so the machine reads (and is
 * tested) on its own; the connection enters a phase only through it.
 */

/**
 * What an `HttpConnection` is doing, as one value. The transitions
 * ({@link PHASE_TRANSITIONS}; any other is a bug, and throws):
 *
 * ```text
 *   open ──response done, request body unread──▶ discarding ──its end──▶ open
 *   open ──response done, socket buffer full──▶ draining ──'drain'──▶ open
 *   discarding ──its end, socket buffer full──▶ draining
 *   open | discarding | draining ──closeGracefully──▶ closing
 *   open ──101 Switching Protocols──▶ switched     (final: the socket is the session's)
 *   open | discarding | draining | closing ──'close'──▶ closed     (final)
 * ```
 *
 * - `open`: reading a request head, or an exchange is in progress (`exchange`
 *   is set only in this phase).
 * - `discarding`: reading and dropping the rest of a body the app did not
 *   read, so the connection can carry the next request (up to `maxDrainSize`).
 * - `draining`: waiting for the socket to flush the last response before the
 *   next request is parsed: a client that does not read its responses does
 *   not get to queue more work.
 * - `closing`: our FIN is sent once queued bytes flush; what still arrives is
 *   read and dropped until `lingerTimeout` (see `closeGracefully`).
 * - `closed`: the socket is gone. `switched`: a WebSocket session owns it.
 */
export type ConnectionPhase = "open" | "discarding" | "draining" | "closing" | "closed" | "switched";

/** The phases each phase may move to. */
export const PHASE_TRANSITIONS: Readonly<Record<ConnectionPhase, readonly ConnectionPhase[]>> = {
  open: ["discarding", "draining", "closing", "switched", "closed"],
  discarding: ["open", "draining", "closing", "closed"],
  draining: ["open", "closing", "closed"],
  closing: ["closed"],
  closed: [],
  switched: [],
};

/**
 * Throws unless `from -> to` is in {@link PHASE_TRANSITIONS}: a move the
 * table does not list is a bug in the connection, not a client's doing.
 */
export function checkTransition(from: ConnectionPhase, to: ConnectionPhase): void {
  if (!PHASE_TRANSITIONS[from].includes(to))
    throw new InternalError(`connection phase ${from} -> ${to} is not a transition`);
}
