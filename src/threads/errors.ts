/**
 * Errors of the `--threads` pool. Codes are listed in docs/errors.md.
 */

import { TsgiError } from "../http1/tsgi-error.ts";

/** The thread running a request exited (process.exit, an uncaught error) before finishing it; answered 500. */
export class ThreadDiedError extends TsgiError {
  override readonly name = "ThreadDiedError";
  readonly code = "TSGI_ERR_THREAD_DIED";
}
