/**
 * The supervisor's concurrency settings (`--workers`, `--max-requests`,
 * `--max-requests-jitter`, `--timeout`): their defaults, the precedent each
 * default follows, and what a worker's limits are computed from. The
 * settings as given are `ConcurrencyOptions` (runtime/config.ts).
 */

/** The supervisor's settings, every field filled. */
export interface SupervisorSettings {
  workers: number;
  maxRequests: number;
  maxRequestsJitter: number;
  timeout: number;
  /** How long a stopping worker may drain (the server's `gracefulTimeout`). */
  gracefulTimeout: number;
}

/**
 * Defaults. `timeout` is 30 s as gunicorn's `--timeout`: long enough for any
 * sane request on a synchronous worker, short enough that a wedged worker does
 * not hold its connections for minutes. `maxRequests` 0 (never) as gunicorn:
 * recycling is a remedy for leaks, to turn on when needed.
 */
export const DEFAULT_CONCURRENCY = Object.freeze({ maxRequests: 0, maxRequestsJitter: 0, timeout: 30_000 });

/**
 * How long a booting worker may take to report it is listening. Loading an
 * app compiles TypeScript and may open connections, which can take longer
 * than a short `--timeout` meant for requests; a worker stuck at boot is
 * still killed, just later.
 */
export function bootTimeout(timeout: number): number {
  return Math.max(timeout, 30_000);
}

/**
 * The request count after which one worker retires: `maxRequests` plus a
 * random share of the jitter, so workers started together do not all recycle
 * at the same moment (gunicorn's reason for `--max-requests-jitter`).
 */
export function requestLimit(
  maxRequests: number,
  jitter: number,
  random: () => number = Math.random,
): number {
  if (maxRequests <= 0) return 0;
  return maxRequests + Math.floor(random() * (jitter + 1));
}
