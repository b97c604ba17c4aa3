/**
 * `--health-path`: the app's handler behind the health endpoint, in a single
 * process and in each `--workers` worker alike.
 */

import { withHealthCheck } from "../server/health.ts";
import type { Handler } from "../server/server.ts";
import type { RuntimeConfig } from "./config.ts";

/**
 * The app's handler behind `--health-path` if given: healthy while `ready()`
 * and the server is not shutting down.
 */
export function withHealth(config: RuntimeConfig, handler: Handler, ready: () => boolean): Handler {
  const path = config.operations.healthPath;
  return path === undefined ? handler : withHealthCheck(handler, path, ready);
}
