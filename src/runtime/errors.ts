/**
 * Errors of the runtime and of the configuration it runs. Codes are listed
 * in docs/errors.md.
 */

import { TsgiError } from "../http1/tsgi-error.ts";

/**
 * A configuration that cannot be run as given (a bad command line, `--threads`
 * with an app that is not WSGI-style); printed as one line, exit status 2.
 */
export class UsageError extends TsgiError {
  override readonly name = "UsageError";
  readonly code = "TSGI_ERR_USAGE";
}
