/**
 * The IPC messages between the supervisor and its worker processes, and the
 * configuration a worker is started with. JSON only: the supervisor never
 * sees app objects.
 */

import type { RuntimeConfig } from "../runtime/config.ts";
import type { MetricsSnapshot } from "../server/metrics.ts";

/** Environment variable carrying a worker's {@link WorkerConfig} as JSON. */
export const CONFIG_ENV = "TSGI_WORKER_CONFIG";

/** Everything a worker needs, decided by the supervisor. */
export interface WorkerConfig {
  /**
   * The configuration, with `--port 0` already replaced by a real port: every
   * worker must ask node:cluster for the same address and port to share one socket.
   */
  config: RuntimeConfig;
  /** Requests after which this worker asks to be replaced; 0 never. */
  requestLimit: number;
  /** Milliseconds between heartbeats; 0 sends none. */
  heartbeatMs: number;
  /** `wsgi.multiprocess`. */
  multiprocess: boolean;
}

/** Worker to supervisor. */
export type WorkerMessage =
  /** Serving: what each bound address is reached at (`Server.urls`). */
  | { type: "listening"; urls: string[] }
  /** Could not load the app or bind; `status` is the exit status the CLI would use. */
  | { type: "boot-error"; message: string; status: number; stack?: string }
  /** Still alive: the event loop turned. */
  | { type: "beat" }
  /** `--max-requests` reached: replace me, then stop me. */
  | { type: "retire"; requests: number }
  /** `--metrics`: my counters, in answer to a scrape (`id`) or as I stop (`id` 0). */
  | { type: "metrics"; id: number; snapshot: MetricsSnapshot }
  /** Stopping: my listener is closed and my connections are done; waiting for `exit`. */
  | { type: "drained" };

/** Supervisor to worker. */
export type SupervisorMessage =
  /** Stop accepting, drain within `timeoutMs`, exit 0. */
  | { type: "stop"; timeoutMs: number }
  /** `--shutdown-delay` began: the health path answers 503 from now on; keep serving. */
  | { type: "unready" }
  /** A scrape: answer with a `metrics` message carrying the same `id`. */
  | { type: "metrics"; id: number }
  /** SIGUSR1: reopen the access log file (logrotate). */
  | { type: "reopen-logs" }
  /**
   * The answer to `drained`: node:cluster hands this worker no more
   * connections, and any it sent before has reached it, so exiting now
   * strands none.
   */
  | { type: "exit" };

/** True for objects shaped like a {@link WorkerMessage} (anything else on the channel is Node's own). */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { type?: unknown }).type === "string" &&
    !("cmd" in value)
  );
}
