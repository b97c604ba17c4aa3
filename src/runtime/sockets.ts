/**
 * systemd socket activation: when the configuration names no address and
 * systemd passed us listening sockets (`LISTEN_FDS`), those sockets are
 * where we listen, as gunicorn does. docs/deploy.md has the unit files.
 * Also the readiness lines that announce where we listen.
 */

import { systemdListenFds } from "../server/listen.ts";
import type { RuntimeConfig } from "./config.ts";

/**
 * Turns systemd's sockets into `fd://N` binds when no `--host`, `--port`,
 * `--bind`, `--uds` or `--fd` was given, and removes the variables so the
 * app's own children do not take the sockets too (`sd_listen_fds(1)`).
 * Called at start, before the app is loaded or a worker forked: parsing the
 * command line leaves the environment alone.
 *
 * @example
 * // LISTEN_PID=<our pid> LISTEN_FDS=1 → config.options.bind = ["fd://3"]
 * adoptSystemdSockets(config);
 */
export function adoptSystemdSockets(config: RuntimeConfig, env: NodeJS.ProcessEnv = process.env): void {
  const o = config.options;
  if ((o.bind?.length ?? 0) > 0 || o.host !== undefined || o.port !== undefined) return;
  const fds = systemdListenFds(env);
  if (fds.length === 0) return;
  o.bind = fds.map((fd) => `fd://${fd}`);
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
}

/**
 * "Listening on URL" for each address, in bind order, in one write; the
 * first line keeps the form scripts wait for (`Listening on http://HOST:PORT`).
 */
export function readinessLines(urls: readonly string[]): string {
  return urls
    .map((url, i) => `INFO: Listening on ${url}${i === 0 ? " (press CTRL+C to quit)" : ""}\n`)
    .join("");
}
