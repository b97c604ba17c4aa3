/**
 * Helpers of the logs, metrics, draining and reload tests: the built CLI
 * started with an environment of our choosing and its "Listening on" and
 * "Metrics on" lines read, a raw GET, and a Prometheus text parser.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { CLI, ROOT } from "../helpers.ts";
import { waitFor } from "../workers/support.ts";

/** A running CLI. */
export interface Tsgi {
  child: ChildProcess;
  port: number;
  /** The metrics port, when `--metrics` was given. */
  metricsPort: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** SIGKILL if still running (for `finally` blocks). */
  kill(): void;
}

/**
 * Starts `tsgi ...args` with `env` added to this process's environment and
 * waits for its "Listening on" line (and "Metrics on" if `--metrics` is given).
 */
export function startTsgi(
  args: string[],
  { cwd = ROOT, env = {} as Record<string, string>, timeoutMs = 15_000 } = {},
): Promise<Tsgi> {
  const wantsMetrics =
    args.some((a) => a === "--metrics" || a.startsWith("--metrics=")) || env.TSGI_METRICS !== undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let done = false;
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tsgi did not become ready:\n${err}`));
    }, timeoutMs);
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => {
      err += d;
      if (done) return;
      const listening = /Listening on http:\/\/[^\s]+:(\d+)/.exec(err);
      const metrics = /Metrics on http:\/\/[^\s]+:(\d+)\/metrics/.exec(err);
      if (listening === null || (wantsMetrics && metrics === null)) return;
      done = true;
      clearTimeout(timer);
      resolve({
        child,
        port: Number(listening[1]),
        metricsPort: metrics === null ? 0 : Number(metrics[1]),
        stdout: () => out,
        stderr: () => err,
        exited,
        kill: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        },
      });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`tsgi exited with ${code} before it was ready:\n${err}`));
    });
  });
}

/** A finished GET. */
export interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET `path` on a new connection (no keep-alive), with extra request headers. */
export function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, headers: { connection: "close", ...headers }, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses Prometheus text format 0.0.4 strictly enough to catch mistakes:
 * every sample line must be `name{labels} value`, every metric must have
 * `# TYPE` before its samples.
 */
export function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const name = m[1]!;
    const family = name.replace(/_(bucket|sum|count)$/, "");
    if (!types.has(name) && !types.has(family)) throw new Error(`sample before its # TYPE: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)) labels[k!] = v!;
    const value = Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`bad value in ${line}`);
    samples.push({ name, labels, value });
  }
  return { samples, types };
}

/** The value of the sample `name` with exactly these labels (undefined if absent). */
export function sample(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

/** Resolves with the exit code, or kills the process and rejects after `ms`. */
export async function exitWithin(tsgi: Tsgi, ms: number): Promise<number | null> {
  let code: number | null | undefined;
  void tsgi.exited.then((c) => (code = c));
  try {
    await waitFor(() => code !== undefined, "tsgi to exit", ms);
  } catch (err) {
    tsgi.kill();
    throw err;
  }
  return code ?? null;
}
