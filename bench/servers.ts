/**
 * What every benchmark does to its servers: pin a process to one CPU (the
 * server on one, the load generator on the other, on a shared machine), start
 * a server and wait for its "Listening on" line, and stop it.
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Pinning needs `taskset` and a second CPU for the load generator. */
export const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0 && cpus().length >= 2;

/** `command` run on `cpu` (unchanged where pinning is not possible). */
export function pinned(cpu: number, command: string[]): string[] {
  return hasTaskset ? ["taskset", "-c", String(cpu), ...command] : command;
}

/**
 * Spawns `command` on `cpu` from the repository root, stderr piped. With
 * `manyFiles`, under a raised open-file limit through `bash -c "ulimit …;
 * exec …"`: `exec` all the way down keeps the child's pid the command's own,
 * so /proc/PID/status is the server's.
 */
export function spawnPinned(
  cpu: number,
  command: string[],
  { stdout = "ignore", manyFiles = false }: { stdout?: "pipe" | "ignore"; manyFiles?: boolean } = {},
): ChildProcess {
  const stdio: ["ignore", "pipe" | "ignore", "pipe"] = ["ignore", stdout, "pipe"];
  if (!manyFiles) {
    const [cmd, ...args] = pinned(cpu, command);
    return spawn(cmd!, args, { cwd: ROOT, stdio });
  }
  const quoted = pinned(cpu, command)
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    .join(" ");
  const script = `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec ${quoted}`;
  return spawn("bash", ["-c", script], { cwd: ROOT, stdio });
}

/** A server that printed its readiness line. */
export interface Listening {
  child: ChildProcess;
  /** The first "Listening on" URL, e.g. http://127.0.0.1:8000 */
  url: string;
  port: number;
}

/** Resolves once `child` prints "Listening on http://HOST:PORT"; rejects if it exits or takes too long. */
export function waitListening(child: ChildProcess, timeoutMs = 20_000): Promise<Listening> {
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no "Listening on" line within ${timeoutMs / 1000} s: ${err.trim()}`));
    }, timeoutMs);
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /Listening on (http:\/\/[^\s]+:(\d+))/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, port: Number(m[2]) });
      }
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${err.trim()}`));
    });
  });
}

/** Stops `child` with `signal` (SIGKILL after `graceMs` if it lingers) and waits for it to exit. */
export function stopServer(
  child: ChildProcess,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
