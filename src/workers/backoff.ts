/**
 * How long the supervisor waits before replacing a worker that died. The
 * first death is answered at once (a one-off crash should cost as little
 * capacity as possible); deaths in a row double the wait up to a ceiling, so
 * an app that crashes on boot does not make the supervisor fork in a tight loop.
 */

/** Settings of a {@link Backoff}; the defaults are in {@link DEFAULT_BACKOFF}. */
export interface BackoffOptions {
  /** Wait after the second death in a row; doubled after each further one. */
  baseMs: number;
  /** Longest wait. */
  maxMs: number;
  /** A worker that lived this long ends the run of deaths: its death counts as the first again. */
  stableMs: number;
}

/**
 * 100 ms doubling to 10 s: a crash loop settles at one fork every 10 s within
 * seven deaths (gunicorn instead gives up after a boot failure; a long-running
 * server is better off retrying while it logs). A worker that ran for 10 s was
 * healthy, so its death starts a new run.
 */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  baseMs: 100,
  maxMs: 10_000,
  stableMs: 10_000,
});

/**
 * Counts deaths in a row and turns them into delays.
 *
 * @example
 * const backoff = new Backoff();
 * backoff.next(50);     // 0: first death, replace at once
 * backoff.next(50);     // 100
 * backoff.next(50);     // 200
 * backoff.next(60_000); // 0 again: that worker was healthy
 */
export class Backoff {
  private deaths = 0;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  /** Records a death of a worker that lived `uptimeMs`; returns the delay before its replacement. */
  next(uptimeMs: number): number {
    if (uptimeMs >= this.options.stableMs) this.deaths = 0;
    this.deaths++;
    if (this.deaths === 1) return 0;
    return Math.min(this.options.baseMs * 2 ** (this.deaths - 2), this.options.maxMs);
  }

  /** Deaths in the current run. */
  get count(): number {
    return this.deaths;
  }
}
