/**
 * The server's coarse clock: one interval per server refreshes the cached
 * `Date` header value once a second (RFC 9110 §6.6.1 needs no more) and
 * sweeps connection deadlines, so a request costs no timer and no date
 * formatting.
 */

/** Current time formatted as an IMF-fixdate, refreshed by {@link Clock}. */
let cachedDate = new Date().toUTCString();
let cachedSecond = Math.floor(Date.now() / 1000);

/** The cached `Date` header value. */
export function httpDate(): string {
  return cachedDate;
}

function refreshDate(now: number): void {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedDate = new Date(now).toUTCString();
  }
}

/** Something with a deadline the clock checks. */
export interface Expirable {
  /** Epoch ms after which `expire()` is called; 0 means none. */
  deadline: number;
  expire(now: number): void;
}

/** How often deadlines are checked. Timeouts are therefore precise to about this much. */
const TICK_MS = 250;

/** Drives the date cache and the deadlines of a set of connections. */
export class Clock {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly items: Set<Expirable>) {}

  start(): void {
    if (this.timer !== null) return;
    refreshDate(Date.now());
    this.timer = setInterval(() => this.tick(), TICK_MS);
    // The clock alone must not keep the process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const now = Date.now();
    refreshDate(now);
    for (const item of this.items) {
      if (item.deadline !== 0 && item.deadline <= now) item.expire(now);
    }
  }
}
