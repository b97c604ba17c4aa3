/**
 * Errors of the `--workers` supervisor. Codes are listed in docs/errors.md.
 */

import { TsgiError } from "../http1/tsgi-error.ts";

/** The first workers could not start (the app failed to load, the port was taken, ...); the CLI exits 1. */
export class WorkerBootError extends TsgiError {
  override readonly name = "WorkerBootError";
  readonly code = "TSGI_ERR_WORKER_BOOT";
}
