/**
 * The `--metrics` listener: a second tsgi server, on its own port (by
 * default on loopback only), answering `GET /metrics` in Prometheus' text
 * format. Its own requests are not counted, so scraping does not change
 * what is scraped.
 */

import type { Exchange } from "./exchange.ts";
import type { Logger } from "./log.ts";
import { type MetricsSnapshot, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./metrics.ts";
import { Server } from "./server.ts";

const TEXT = ["Content-Type", "text/plain; charset=utf-8"];

/**
 * Starts the metrics listener on `host`:`port`; `collect` is called once per
 * scrape (a supervisor asks its workers then). Resolves once it listens.
 *
 * @example
 * const metrics = await serveMetrics("127.0.0.1", 9100, async () => stats.snapshot(0, 0), logger);
 * console.log(`${metrics.url}/metrics`);
 */
export async function serveMetrics(
  host: string,
  port: number,
  collect: () => Promise<MetricsSnapshot>,
  logger: Logger,
): Promise<Server> {
  const handler = (ex: Exchange) => {
    const target = ex.request.target;
    const path = target.includes("?") ? target.slice(0, target.indexOf("?")) : target;
    if (path !== "/metrics") {
      ex.respond({ status: 404, headers: TEXT }, Buffer.from("metrics are at /metrics\n"));
      return;
    }
    if (ex.request.method !== "GET" && ex.request.method !== "HEAD") {
      ex.respond({ status: 405, headers: [...TEXT, "Allow", "GET, HEAD"] }, Buffer.from("GET only\n"));
      return;
    }
    collect().then(
      (snapshot) =>
        // The scraper may have given up (and closed) while workers were asked.
        ex.finished ||
        ex.respond(
          { status: 200, headers: ["Content-Type", PROMETHEUS_CONTENT_TYPE] },
          Buffer.from(renderPrometheus(snapshot)),
        ),
      (err: unknown) => ex.fail(err),
    );
  };
  const server = new Server(handler, { host, port, accessLog: false, serverHeader: null }, logger);
  await server.listen();
  return server;
}
