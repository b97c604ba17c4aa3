/**
 * The error every gateway's app check shares: the loaded object is not
 * something the chosen interface can serve. Its own file so that the
 * gateways below `select.ts` (the node one refuses some Fastify apps) can
 * throw it without importing their selector.
 */

import { TsgiError } from "../http1/tsgi-error.ts";

/** The app is not something the chosen interface can serve. */
export class NotAnAppError extends TsgiError {
  override readonly name = "NotAnAppError";
  readonly code = "TSGI_ERR_NOT_AN_APP";
}
