/**
 * Errors of the `--threads` pool. Codes are listed in docs/errors.md.
 */

/** The thread running a request exited (process.exit, an uncaught error) before finishing it; answered 500. */
export class ThreadDiedError extends Error {
  override readonly name = "ThreadDiedError";
  readonly code = "TSGI_ERR_THREAD_DIED";
}
