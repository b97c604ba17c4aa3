/**
 * `--metrics`: whether a server counts requests, and the Prometheus listener
 * that serves the counts, started by a single process for its own server and
 * by the `--workers` supervisor for the sum of its workers.
 */

import { BindError } from "../server/listen.ts";
import type { Logger } from "../server/log.ts";
import type { MetricsSnapshot } from "../server/metrics.ts";
import type { Server } from "../server/server.ts";
import type { RuntimeConfig } from "./config.ts";

/** Default interface of the `--metrics` listener: loopback, as metrics can reveal traffic. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";

/** True when the server must count requests for `--metrics` (here or in a supervisor). */
export function wantsMetrics(config: RuntimeConfig): boolean {
  return config.operations.metricsPort !== undefined;
}

/**
 * Starts the `--metrics` listener, answering each scrape with `snapshot()`,
 * and logs where it is. A port that cannot be bound rejects with one line
 * naming it (the system error as `cause`).
 */
export async function listenForMetrics(
  config: RuntimeConfig,
  snapshot: () => Promise<MetricsSnapshot>,
  logger: Logger,
): Promise<Server> {
  const host = config.operations.metricsHost ?? DEFAULT_METRICS_HOST;
  // Imported only with --metrics: every module loaded costs memory (docs/performance.md).
  const { serveMetrics } = await import("../server/metrics-server.ts");
  let server: Server;
  try {
    server = await serveMetrics(host, config.operations.metricsPort!, snapshot, logger);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    throw new BindError(
      `cannot serve metrics on ${host}:${config.operations.metricsPort}${code === "" ? "" : ` (${code})`}`,
      code === "" ? undefined : code,
      { cause: err },
    );
  }
  // Tests and operators read the real port from this line.
  logger.info(`Metrics on ${server.url}/metrics`);
  return server;
}
