/**
 * The base of every error tsgi throws on purpose. It lives in the lowest
 * layer (`src/http1/`, which imports nothing else) so every layer above can
 * derive from it. See docs/errors.md for the codes.
 */

/**
 * An error tsgi raised deliberately. `code` is stable (`TSGI_ERR_…`, listed
 * in docs/errors.md): test it, or `instanceof`, never the message. Subclasses
 * add `status` (an HTTP status to answer with) or `closeCode` (a WebSocket
 * close code) where one applies.
 *
 * @example
 * try { await server.listen(); }
 * catch (err) { if (err instanceof TsgiError && err.code === "TSGI_ERR_BIND") ... }
 */
export abstract class TsgiError extends Error {
  /** Stable machine-readable code; see docs/errors.md. */
  abstract readonly code: string;
}

/**
 * A broken internal invariant: a bug in tsgi if it is ever thrown (a state
 * move a table does not list, a parser state that cannot be reached). Report it.
 */
export class InternalError extends TsgiError {
  override readonly name = "InternalError";
  readonly code = "TSGI_ERR_INTERNAL";
}
