/**
 * Where a server listens: TCP addresses, unix domain sockets and inherited
 * file descriptors (systemd socket activation), as gunicorn's `--bind`
 * spells them (`HOST:PORT`, `[IPV6]:PORT`, `unix:PATH`, `fd://N`). Parsing
 * the specs, clearing a stale socket file, binding one `net.Server`, and
 * naming what was bound for the "Listening on" line.
 */

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { type AddressInfo, connect, isIPv6, type Server as NetServer } from "node:net";
import { TsgiError } from "../http1/tsgi-error.ts";

/** An address could not be bound (in use, not allowed, a bad spec, a live socket file). */
export class BindError extends TsgiError {
  override readonly name = "BindError";
  readonly code = "TSGI_ERR_BIND";
  /** The system error code behind it (`EADDRINUSE`, `EACCES`, ...), if any. */
  readonly reason: string | undefined;

  constructor(message: string, reason?: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** One address to listen on. */
export type BindTarget =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "fd"; readonly fd: number };

/** gunicorn's and uvicorn's default port, used when a `--bind` gives a host only. */
const DEFAULT_PORT = 8000;

/**
 * Parses one `--bind` value: `HOST:PORT`, `HOST` (port 8000), `[IPV6]:PORT`,
 * `unix:PATH` or `fd://N`. Throws {@link BindError}.
 *
 * @example
 * parseBind("[::1]:8000");      // { kind: "tcp", host: "::1", port: 8000 }
 * parseBind("unix:/run/app.sock"); // { kind: "unix", path: "/run/app.sock" }
 * parseBind("fd://3");          // { kind: "fd", fd: 3 }
 */
export function parseBind(spec: string): BindTarget {
  const bad = (why: string) => new BindError(`bad bind address ${JSON.stringify(spec)}: ${why}`);
  if (spec.startsWith("unix:")) {
    const path = spec.slice(spec.startsWith("unix://") ? 7 : 5);
    if (path === "") throw bad("no socket path after unix:");
    return { kind: "unix", path };
  }
  if (spec.startsWith("fd://")) {
    const text = spec.slice(5);
    if (!/^[0-9]+$/.test(text)) throw bad("fd:// needs a file descriptor number");
    return { kind: "fd", fd: Number(text) };
  }
  let host: string;
  let portText: string | undefined;
  if (spec.startsWith("[")) {
    const close = spec.indexOf("]");
    if (close === -1) throw bad("no ] after an IPv6 address");
    host = spec.slice(1, close);
    const rest = spec.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) throw bad("expected :PORT after ]");
    portText = rest === "" ? undefined : rest.slice(1);
  } else if (isIPv6(spec)) {
    host = spec; // a bare IPv6 address: its colons are not a port separator
  } else {
    const colon = spec.lastIndexOf(":");
    host = colon === -1 ? spec : spec.slice(0, colon);
    portText = colon === -1 ? undefined : spec.slice(colon + 1);
  }
  if (host === "") throw bad("no host (use 0.0.0.0 or [::] for every interface)");
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) throw bad("the port must be 0-65535");
    port = Number(portText);
  }
  return { kind: "tcp", host, port };
}

/** The spec of a target, as `parseBind` reads it and messages show it. */
export function formatBind(target: BindTarget): string {
  switch (target.kind) {
    case "tcp":
      return `${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
    case "unix":
      return `unix:${target.path}`;
    case "fd":
      return `fd://${target.fd}`;
  }
}

/**
 * The file descriptors systemd passed us (`sd_listen_fds(3)`): `LISTEN_FDS`
 * sockets from fd 3 up, meant for us only if `LISTEN_PID` is our pid (so a
 * child that inherits the variables does not take them too). Empty when
 * not socket-activated.
 */
export function systemdListenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number[] {
  const count = Number(env.LISTEN_FDS);
  if (env.LISTEN_PID !== String(pid) || !Number.isInteger(count) || count < 1) return [];
  return Array.from({ length: count }, (_, i) => 3 + i);
}

/**
 * A socket file left by a server that died without removing it is removed,
 * so a restart does not fail with EADDRINUSE; one that a live server
 * answers on is left alone and refused, and a path that is not a socket at
 * all is never deleted.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new BindError(
      `cannot listen on unix:${path}: ${(err as Error).message}`,
      (err as NodeJS.ErrnoException).code,
    );
  }
  if (!isSocket)
    throw new BindError(`cannot listen on unix:${path}: the path exists and is not a socket`, "EEXIST");
  // Connecting is the only reliable test: a listener accepts, a stale file refuses.
  const live = await new Promise<boolean | NodeJS.ErrnoException>((resolve) => {
    const probe = connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED" ? false : err));
  });
  if (live === true)
    throw new BindError(`cannot listen on unix:${path}: another server is listening on it`, "EADDRINUSE");
  if (live !== false && live.code !== "ENOENT")
    throw new BindError(`cannot listen on unix:${path}: ${live.message}`, live.code);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      throw new BindError(
        `cannot remove the stale socket unix:${path}: ${(err as Error).message}`,
        (err as NodeJS.ErrnoException).code,
      );
  }
}

/** One line for a failed bind: what and why, without a stack. */
function describe(target: BindTarget, err: NodeJS.ErrnoException): BindError {
  const where = `cannot listen on ${formatBind(target)}`;
  let why: string;
  switch (err.code) {
    case "EADDRINUSE":
      why = "address already in use";
      break;
    case "EACCES":
      why = "permission denied";
      break;
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
      why = "address not available on this machine";
      break;
    case "EINVAL":
    case "ENOTSOCK":
    case "EBADF":
      why = target.kind === "fd" ? "not an open socket file descriptor" : err.message;
      break;
    default:
      why = err.message;
  }
  return new BindError(`${where}: ${why}`, err.code, { cause: err });
}

/**
 * Binds `server` to `target`. A unix socket is chmod-ed to `udsMode` once
 * bound (when given; otherwise the umask decides who may connect).
 * Rejects with a {@link BindError}; call {@link clearStaleSocket} first
 * for a unix path (the `--workers` supervisor does it once, for all).
 */
export function listenOn(
  server: NetServer,
  target: BindTarget,
  udsMode: number | null = null,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(describe(target, err));
    server.once("error", onError);
    const done = () => {
      server.off("error", onError);
      if (target.kind === "unix" && udsMode !== null) {
        try {
          chmodSync(target.path, udsMode);
        } catch (err) {
          server.close();
          reject(describe(target, err as NodeJS.ErrnoException));
          return;
        }
      }
      resolve();
    };
    if (target.kind === "tcp") server.listen({ host: target.host, port: target.port }, done);
    else if (target.kind === "unix") server.listen({ path: target.path }, done);
    else server.listen({ fd: target.fd }, done);
  });
}

/**
 * What a bound server is reached at: `http://HOST:PORT` (or https) for
 * TCP, whether bound by address or inherited as an fd; `unix:PATH` for a
 * unix socket.
 */
export function describeAddress(
  address: AddressInfo | string | null,
  tls: boolean,
  fallback: string,
): string {
  if (typeof address === "string") return `unix:${address}`;
  if (address === null) return fallback;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `${tls ? "https" : "http"}://${host}:${address.port}`;
}
