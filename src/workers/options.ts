/**
 * Concurrency settings of the command line (`--workers`, `--threads`,
 * `--max-requests`, `--max-requests-jitter`, `--timeout`) with their defaults,
 * and the precedent each default follows.
 */

/** What the command line asks for; unset fields mean "not given". */
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
