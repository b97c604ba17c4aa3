/**
 * What tsgi is asked to run: the app, the server's options, the gateway's
 * settings, workers and threads, and the operations around the server (logs,
 * metrics, health, draining, reloading). The command line makes one; the
 * runtime, the supervisor and every worker read it. Plain data (a worker
 * receives it as JSON).
 */

import type { GatewaySettings, Interface } from "../gateways/select.ts";
import type { ParserLimits } from "../http1/limits.ts";
import type { AccessLogFormat } from "../server/access-log.ts";
import type { ServeOptions } from "../server/options.ts";

/** Everything one run of tsgi needs. */
export interface RuntimeConfig {
  /** MODULE[:ATTR] as given. */
  target: string;
  interface: Interface;
  options: ServeOptions & { limits: Partial<ParserLimits> };
  /** Gateway settings (see GatewaySettings). */
  gateway: GatewaySettings;
  /** Workers and threads (see docs/concurrency.md). */
  concurrency: ConcurrencyOptions;
  /** Logs, metrics, draining and reloading: what the runtime sets up around the server. */
  operations: OperationsSettings;
  /**
   * listen() takeover (docs/interfaces/node.md): the first `listen()` the
   * app module calls on an HTTP server is served on tsgi's addresses
   * instead of binding. `--no-listen-takeover` or `TSGI_LISTEN_TAKEOVER=0`
   * sets false; unset means on.
   */
  listenTakeover?: boolean;
}

/** `--workers`, `--threads`, `--max-requests`, `--max-requests-jitter`, `--timeout`; unset fields mean "not given". */
export interface ConcurrencyOptions {
  /** Worker processes under a supervisor; unset runs one process with no supervisor. */
  workers?: number;
  /** Threads running a WSGI-style app (per process); unset runs the app on the event loop. */
  threads?: number;
  /** Requests after which a worker is replaced; 0 never. */
  maxRequests?: number;
  /** Up to this many requests added at random to `maxRequests`, per worker. */
  maxRequestsJitter?: number;
  /** Milliseconds a worker may go without a heartbeat before it is killed; 0 never. */
  timeout?: number;
}

/** The operational settings; unset fields mean "not given". */
export interface OperationsSettings {
  /** `--access-log`: a file to append access lines to; "-" (the default) is stdout. */
  accessLog?: string;
  accessLogFormat?: AccessLogFormat;
  /** `--metrics`: the port of the Prometheus listener; unset serves no metrics. */
  metricsPort?: number;
  /** Interface of the metrics listener. Default 127.0.0.1: metrics are for the machine's scraper, not the world. */
  metricsHost?: string;
  /** Path answered by the server itself: 200 while serving, 503 once shutting down. */
  healthPath?: string;
  /** Milliseconds to keep serving (health failing) after SIGTERM before the graceful shutdown. */
  shutdownDelay?: number;
  /** `--reload`: restart on file changes (development). */
  reload?: boolean;
  /** Directories watched besides the app's. */
  reloadDirs: string[];
  /** `--reload-include`: globs of files that reload, besides the default extensions. */
  reloadIncludes: string[];
  /** `--reload-exclude`: globs of files that never reload. */
  reloadExcludes: string[];
}
