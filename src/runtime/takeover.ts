/**
 * Loads the app module with listen() takeover around the import (see
 * src/gateways/node/takeover.ts): an app module that calls `app.listen(3000)`
 * instead of exporting its app is served on tsgi's addresses. Decides
 * between the export and the listened server, and waits a bounded time for
 * a `listen()` that comes after an `await`.
 */

import { type AddressInfo, isIP, isIPv6 } from "node:net";
import { DEFAULT_LIFESPAN } from "../gateways/lifespan.ts";
import { ListenTakeover } from "../gateways/node/takeover.ts";
import { loadApp, NoAppExportError, splitTarget } from "../loader/load.ts";
import { type BindTarget, parseBind } from "../server/listen.ts";
import type { Logger } from "../server/log.ts";
import { DEFAULT_OPTIONS } from "../server/options.ts";
import type { RuntimeConfig } from "./config.ts";

/** The app to serve, and the takeover that produced it (null when it is the module's export). */
export interface LoadedApp {
  app: unknown;
  takeover: ListenTakeover | null;
}

/**
 * Takeover is on unless turned off, for the interfaces that can serve an
 * `http.Server` (auto, node) and not with `--threads` (whose threads load
 * the app themselves, for WSGI-style apps only).
 */
function takeoverApplies(config: RuntimeConfig): boolean {
  return (
    config.listenTakeover !== false &&
    (config.interface === "auto" || config.interface === "node") &&
    config.concurrency.threads === undefined
  );
}

/** How the import ended: the export, or the error. */
type Imported = { ok: true; app: unknown } | { ok: false; err: unknown };

/** Resolves on the next turn of the event loop. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The module's app, or the server its first `listen()` was called on:
 * - a `listen()` during the import wins over an export (the listened server
 *   is what the module serves: it has the app, and maybe socket.io on it).
 *   It is served even if the import has not finished: `await app.listen()`
 *   at the top level finishes only once tsgi listens and the callback runs;
 * - an export without a `listen()` is served at once, with no waiting;
 * - neither: wait up to `--startup-timeout` for a `listen()` that comes
 *   after an `await` (a database connection first), then fail naming the module.
 * @throws NoAppExportError when no export and no `listen()` came in time.
 * @throws ListenTakeoverError when the first `listen()` was on an https.Server.
 */
export async function loadServedApp(config: RuntimeConfig, logger: Logger): Promise<LoadedApp> {
  if (!takeoverApplies(config)) {
    try {
      return { app: await loadApp(config.target, process.cwd(), logger), takeover: null };
    } catch (err) {
      if (!(err instanceof NoAppExportError) || config.listenTakeover !== false) throw err;
      // Its own listen() may well have bound: say why tsgi did not take it over.
      throw new NoAppExportError(`${err.message} (listen() takeover is off)`, { cause: err });
    }
  }
  const { module } = splitTarget(config.target);
  const takeover = new ListenTakeover(module, (line) => logger.info(line), plannedAddress(config));
  takeover.install();
  try {
    const importing: Promise<Imported> = loadApp(config.target, process.cwd(), logger).then(
      (app) => ({ ok: true, app }),
      (err: unknown) => ({ ok: false, err }),
    );
    let imported = await Promise.race([importing, takeover.first.then(() => null)]);
    // A listen() came first: give the import one turn of the event loop to end
    // (it usually does; an error right after listen() is then reported as such).
    if (imported === null) imported = await Promise.race([importing, nextTurn().then(() => null)]);
    if (imported !== null && !imported.ok) {
      if (!(imported.err instanceof NoAppExportError)) throw imported.err;
    }
    const missing = imported === null || imported.ok ? null : (imported.err as NoAppExportError);
    const ms = config.gateway.startupTimeout ?? DEFAULT_LIFESPAN.startupTimeout;
    if (missing !== null && !takeover.settled) {
      logger.info(`${module} exports no app: waiting up to ${ms / 1000}s for it to call listen()`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([takeover.first, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
      clearTimeout(timer);
    }
    const server = takeover.result();
    if (server === null) {
      if (missing === null) return { app: (imported as { app: unknown }).app, takeover: null };
      throw new NoAppExportError(
        `${missing.message}, and called no listen() within ${ms / 1000}s (--startup-timeout)`,
        { cause: missing },
      );
    }
    if (imported === null) {
      void importing.then((late) => {
        // Exporting nothing is fine now: the listened server is the app.
        if (!late.ok && !(late.err instanceof NoAppExportError)) lateFailure(module, late.err, logger);
      });
    }
    const unused = imported?.ok === true ? " (its export is not used)" : "";
    logger.info(`${module} called listen(${takeover.asked}): tsgi serves that server instead${unused}`);
    return { app: server, takeover };
  } finally {
    takeover.restore();
  }
}

/**
 * The module failed after its `listen()` was taken, while tsgi was already
 * starting to serve it. On node that is an uncaught error that ends the
 * process; so it is here, after one line saying where it came from.
 */
function lateFailure(module: string, err: unknown, logger: Logger): void {
  logger.error(`${module} failed after its listen(): ${err instanceof Error ? err.message : String(err)}`);
  process.nextTick(() => {
    throw err;
  });
}

/**
 * tsgi's first address as node's `address()` reports it, when known before
 * binding: a TCP host and port other than 0, or a unix socket's path.
 */
export function plannedAddress(config: RuntimeConfig): AddressInfo | string | null {
  const o = config.options;
  const first = o.bind?.[0];
  const target: BindTarget =
    first !== undefined
      ? parseBind(first)
      : { kind: "tcp", host: o.host ?? DEFAULT_OPTIONS.host, port: o.port ?? DEFAULT_OPTIONS.port };
  if (target.kind === "unix") return target.path;
  if (target.kind !== "tcp" || target.port === 0) return null;
  const family = isIPv6(target.host) ? "IPv6" : "IPv4";
  // A host name (localhost) is what it resolves to only once bound; node reports addresses.
  if (!isIP(target.host)) return null;
  return { address: target.host, family, port: target.port };
}
