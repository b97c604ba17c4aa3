/**
 * `npm run bench:concurrency`: the seed's lesson on concurrency, measured.
 * wrk drives two apps that each take 100 ms per request: one blocks its
 * thread (examples/blocking_app.ts, a synchronous WSGI-style app), the other
 * awaits a timer (examples/sleepy_fetch_app.ts, a Fetch app). The blocking
 * app runs on the event loop, on --threads 1/2/4/8 and on --workers 1/2; the
 * async one on a single thread with 50 and with 500 clients. Every figure is
 * bounded by 100 ms per request: the ideal is (requests in flight) × 10 per second.
 *
 * Needs `npm run build` (the CLI runs from dist/) and wrk. Settings:
 * BENCH_DURATION (seconds per run, default 5). Results: a table on stdout and
 * bench/results/concurrency.json.
 */

import { type ChildProcess, execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { pinned, spawnPinned, stopServer, waitListening } from "./servers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = "dist/cli/main.js";
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const BLOCKING = "examples/blocking_app.ts";
const SLEEPY = "examples/sleepy_fetch_app.ts";
interface Row {
  model: string;
  app: string;
  flags: string[];
  connections: number;
  /** The best a 100 ms-per-request server can do with this many requests in flight. */
  ideal: number;
  rps?: number;
  errors?: string;
}

const ROWS: Row[] = [
  { model: "event loop, blocking app", app: BLOCKING, flags: [], connections: 50, ideal: 10 },
  ...[1, 2, 4, 8].map((n) => ({
    model: `--threads ${n}`,
    app: BLOCKING,
    flags: ["--threads", String(n)],
    connections: 50,
    ideal: 10 * n,
  })),
  ...[1, 2].map((n) => ({
    model: `--workers ${n}`,
    app: BLOCKING,
    flags: ["--workers", String(n)],
    connections: 50,
    ideal: 10 * n,
  })),
  { model: "event loop, async app", app: SLEEPY, flags: [], connections: 50, ideal: 500 },
  { model: "event loop, async app", app: SLEEPY, flags: [], connections: 500, ideal: 5000 },
];

/** Starts the CLI (server on CPU 0, wrk on CPU 1) and resolves once it prints the readiness line. */
function start(row: Row): Promise<{ child: ChildProcess; port: number }> {
  const args = [CLI, "--port", "0", "--no-access-log", "--log-level", "warning", ...row.flags, row.app];
  return waitListening(spawnPinned(0, [process.execPath, ...args]));
}

/** Stops the server gracefully and waits for it to exit. */
const stop = (child: ChildProcess) => stopServer(child);

function wrk(port: number, connections: number): { rps: number; errors: string } {
  // Two threads (one per core of the reference machine); 500 connections need
  // as many descriptors (`ulimit -n`). A long --timeout: a queued request is slow, not lost.
  const [command, ...args] = pinned(1, [
    "wrk",
    "-t2",
    `-c${connections}`,
    `-d${DURATION}s`,
    "--timeout",
    "30s",
    `http://127.0.0.1:${port}/`,
  ]);
  const out = execFileSync(command!, args, { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)?.[1] ?? Number.NaN);
  const errors = /Socket errors:.*|Non-2xx.*/.exec(out)?.[0] ?? "";
  return { rps, errors };
}

async function main(): Promise<void> {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
  } catch (err) {
    // wrk --version exits 1 after printing its version; only a missing binary matters.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      console.error("wrk is not installed (apt-get install -y wrk)");
      process.exit(1);
    }
  }
  for (const row of ROWS) {
    const { child, port } = await start(row);
    try {
      // Warm up the async app's code paths. Not the blocking app: its warm-up
      // would leave a queue of requests (50 clients × 100 ms each) that the
      // measured run would then wait behind.
      if (row.app === SLEEPY) wrk(port, row.connections);
      Object.assign(row, wrk(port, row.connections));
    } finally {
      await stop(child);
    }
    console.error(
      `${row.model} (${row.connections} clients): ${row.rps?.toFixed(1)} req/s ${row.errors ?? ""}`,
    );
  }
  const one = ROWS.find((r) => r.model === "--threads 1")!.rps!;
  const lines = [
    `Concurrency benchmark ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}; wrk -t2, ${DURATION} s per row, 100 ms per request.`,
    "",
    "| model | app | clients | req/s | ideal | vs --threads 1 |",
    "| --- | --- | --- | --- | --- | --- |",
    ...ROWS.map((r) => {
      const app = r.app === BLOCKING ? "blocking (WSGI-style)" : "async (Fetch)";
      return `| ${r.model} | ${app} | ${r.connections} | ${r.rps!.toFixed(1)} | ${r.ideal} | ${(r.rps! / one).toFixed(1)}× |`;
    }),
  ];
  console.log(lines.join("\n"));
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(
    `${ROOT}bench/results/concurrency.json`,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, durationSeconds: DURATION, rows: ROWS }, null, 2)}\n`,
  );
}

await main();
