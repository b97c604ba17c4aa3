/**
 * Lifespan: an app's startup before the server accepts its first connection,
 * and its shutdown after the last one closed. The ASGI-style gateway runs the
 * spec's lifespan scope (asgi/lifespan.ts); Fetch apps declare `startup()` and
 * `shutdown()` methods (this file). Both share the modes, the timeouts and the
 * error type here. WSGI-style apps have no lifespan.
 */

import { TsgiError } from "../http1/tsgi-error.ts";
import type { Logger } from "../server/log.ts";
import type { Server } from "../server/server.ts";

/**
 * `--lifespan`, with uvicorn's meanings. `auto`: run it; an ASGI app that
 * raises before sending any lifespan event does not support it, and the
 * server goes on. `on`: run it and treat every failure as fatal. `off`: never run it.
 */
export type LifespanMode = "auto" | "on" | "off";

/** The lifespan modes, in the order --help lists them. */
export const LIFESPAN_MODES: readonly LifespanMode[] = ["auto", "on", "off"];

/** Lifespan settings. */
export interface LifespanOptions {
  /** Default "auto". */
  lifespan: LifespanMode;
  /**
   * Milliseconds startup may take before the server gives up and exits.
   * Default 60 s, as Hypercorn's `startup_timeout`: long enough for warming
   * caches or opening connection pools to slow databases, short enough that a
   * hung startup fails a deploy instead of hanging it.
   */
  startupTimeout: number;
  /**
   * Milliseconds shutdown may take after the last connection closed. Default
   * 30 s, the same as `gracefulTimeout`: together they fit the 60 s most
   * process managers allow between SIGTERM and SIGKILL (Kubernetes' default
   * is 30 s; raise terminationGracePeriodSeconds for apps that need both).
   */
  shutdownTimeout: number;
}

/** The defaults documented on {@link LifespanOptions}. */
export const DEFAULT_LIFESPAN: Readonly<LifespanOptions> = Object.freeze({
  lifespan: "auto" as LifespanMode,
  startupTimeout: 60_000,
  shutdownTimeout: 30_000,
});

/** Why startup or shutdown did not complete. */
export type LifespanErrorCode = "TSGI_ERR_LIFESPAN_FAILED" | "TSGI_ERR_LIFESPAN_TIMEOUT";

/**
 * Startup or shutdown failed: the app said so (`lifespan.startup.failed`),
 * threw, or took longer than its timeout. A startup failure stops the server
 * before it listens (the CLI exits with status 1 and the message).
 */
export class LifespanError extends TsgiError {
  override readonly name = "LifespanError";
  constructor(
    message: string,
    /** Stable code; see docs/errors.md. */
    readonly code: LifespanErrorCode = "TSGI_ERR_LIFESPAN_FAILED",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An app's startup and shutdown, as the server drives them. */
export interface Lifespan {
  /** Runs startup; rejects with a {@link LifespanError} when the server must not start. */
  startup(): Promise<void>;
  /** Runs shutdown; rejects with a {@link LifespanError} when it failed (the server is closed either way). */
  shutdown(): Promise<void>;
  /**
   * Called once `server` listens, after startup: a node-style `http.Server`
   * the app attached to hears `'listening'` here. Throws a
   * {@link LifespanError} when the app failed there; the server then stops.
   */
  listening?(server: Server): void;
}

/** `work` bounded by `ms` (0: no bound); past it, rejects with a TSGI_ERR_LIFESPAN_TIMEOUT error. */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  if (ms <= 0) return work;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new LifespanError(`${what} did not complete within ${ms / 1000}s`, "TSGI_ERR_LIFESPAN_TIMEOUT"),
        ),
      ms,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The optional members of a Fetch app that make its lifespan. */
export interface FetchLifespanHooks {
  startup?(): void | Promise<void>;
  shutdown?(): void | Promise<void>;
}

/**
 * The hook `name` of `app`, if it has one. Checked with `in` first: routers
 * built on a Proxy (itty-router) answer every property read with a function,
 * and calling `router.startup()` would register a route, not start anything.
 */
function hook(app: unknown, name: "startup" | "shutdown"): (() => unknown) | null {
  if (app === null || typeof app !== "object" || !(name in app)) return null;
  const fn = (app as Record<string, unknown>)[name];
  return typeof fn === "function" ? () => fn.call(app) : null;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The lifespan of a Fetch app with `startup()` and/or `shutdown()` methods,
 * or null when it has neither (or `mode` is "off"). A hook that throws or
 * rejects fails in every mode: declaring the hook is the app's way of saying
 * it supports lifespan, so there is no "unsupported" case to fall back on.
 */
export function fetchLifespan(app: unknown, options: LifespanOptions, logger: Logger): Lifespan | null {
  if (options.lifespan === "off") return null;
  const startup = hook(app, "startup");
  const shutdown = hook(app, "shutdown");
  if (startup === null && shutdown === null) return null;
  const run = async (fn: (() => unknown) | null, what: string, ms: number): Promise<void> => {
    if (fn === null) return;
    try {
      await withTimeout(Promise.resolve().then(fn), ms, what);
    } catch (err) {
      if (err instanceof LifespanError) throw err;
      throw new LifespanError(`${what} failed: ${message(err)}`, "TSGI_ERR_LIFESPAN_FAILED", { cause: err });
    }
    logger.debug(`${what} complete`);
  };
  return {
    startup: () => run(startup, "application startup", options.startupTimeout),
    shutdown: () => run(shutdown, "application shutdown", options.shutdownTimeout),
  };
}
