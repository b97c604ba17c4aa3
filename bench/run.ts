/**
 * `npm run bench`: wrk against tsgi and its peers in one run, on the same
 * machine and load. Servers are pinned to one CPU and wrk to another when
 * `taskset` exists; rounds are interleaved (A B C A B C ...) and medians kept,
 * so drift in the machine's speed hits every server alike.
 *
 * Targets: tsgi serving the WSGI-style hello world, a plain Fetch app and a
 * Hono app, against Node's own `http` module (the baseline of every row) and
 * @hono/node-server serving the same Hono app (the baseline of Hono rows).
 * Each target lists the scenarios it runs; one that fails to start (say the
 * Fetch gateway is not built) is skipped with a message, not fatal.
 *
 * Settings: BENCH_DURATION (seconds per run, default 5), BENCH_ROUNDS
 * (default 3), BENCH_CONNECTIONS (default 100). Results: a table on stdout
 * and bench/results/latest.json.
 *
 * `npm run bench -- http` runs only the HTTP part (wrk), `npm run bench -- ws`
 * only the WebSocket part (bench/ws.ts, which needs no wrk); without a filter
 * both run. A part left out keeps its previous figures in latest.json.
 */

import { type ChildProcess, execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { hasTaskset, pinned, spawnPinned, waitListening } from "./servers.ts";
import { median } from "./stats.ts";
import { runWebSocketBench, type WebSocketReport } from "./ws.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
const START_TIMEOUT_MS = 20_000;
const BASELINE = "node:http";
const HONO_BASELINE = "@hono/node-server";

interface Scenario {
  name: string;
  args: string[];
  /** Whether wrk's latency figures mean anything (not for pipelined runs). */
  latency: boolean;
}

const KEEP_ALIVE: Scenario = { name: "GET hello, keep-alive", args: [], latency: true };
const PIPELINED: Scenario = {
  name: "GET hello, 16 pipelined",
  args: ["-s", "bench/pipeline.lua"],
  latency: false,
};
const POST: Scenario = { name: "POST 4 KiB body", args: ["-s", "bench/post.lua"], latency: true };
const SCENARIOS: Scenario[] = [KEEP_ALIVE, PIPELINED, POST];

interface Target {
  name: string;
  command: string[];
  /** The scenarios this target runs. */
  scenarios: Scenario[];
  /** A second baseline to compare this target with, besides node:http. */
  peer?: string;
}

const tsgi = (...args: string[]) => [
  process.execPath,
  "dist/cli/main.js",
  "--port",
  "0",
  "--no-access-log",
  ...args,
];
const tsx = (...args: string[]) => [process.execPath, "--import", "tsx", ...args];

const TARGETS: Target[] = [
  { name: "tsgi (WSGI-style)", command: tsgi("bench/apps/hello_wsgi.ts"), scenarios: SCENARIOS },
  {
    name: "tsgi (Fetch)",
    command: tsgi("--interface", "fetch", "bench/apps/hello_fetch.ts"),
    scenarios: [KEEP_ALIVE, PIPELINED],
  },
  {
    name: "tsgi (Fetch, Hono)",
    command: tsgi("--interface", "fetch", "bench/apps/hello_hono.ts"),
    scenarios: [KEEP_ALIVE, PIPELINED],
    peer: HONO_BASELINE,
  },
  { name: BASELINE, command: tsx("bench/peers/node_http.ts", "0"), scenarios: SCENARIOS },
  {
    name: HONO_BASELINE,
    command: tsx("bench/peers/hono_node_server.ts", "0"),
    scenarios: [KEEP_ALIVE, PIPELINED],
    peer: HONO_BASELINE,
  },
];

interface Run {
  rps: number;
  p99ms: number;
}

interface Result {
  scenario: string;
  server: string;
  rps: number;
  /** Null where wrk's latency is not meaningful (pipelined runs). */
  p99ms: number | null;
  vsNodeHttp: number | null;
  vsHonoNodeServer: number | null;
  runs: Run[];
}

interface Started {
  target: Target;
  child: ChildProcess;
  url: string;
}

/** Starts a target and waits for its "Listening on" line; rejects if it exits or takes too long. */
async function start(target: Target): Promise<Started> {
  const { child, url } = await waitListening(spawnPinned(0, target.command), START_TIMEOUT_MS);
  return { target, child, url };
}

/** wrk's latency figures, e.g. "1.23ms" or "950.00us", in milliseconds. */
function toMs(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? "");
  if (m === null) return Number.NaN;
  const scale = m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1;
  return Number(m[1]) * scale;
}

function wrk(url: string, args: string[], seconds: number): Run {
  const [cmd, ...rest] = pinned(1, [
    "wrk",
    "-t1",
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    "--latency",
    ...args,
    `${url}/`,
  ]);
  const out = execFileSync(cmd!, rest, { cwd: ROOT, encoding: "utf8" });
  if (/Non-2xx or 3xx responses|Socket errors/.test(out)) process.stderr.write(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    // The "99%" line of the latency distribution (anchored: "+/- Stdev" figures can end in 99%).
    p99ms: toMs(/^\s*99%\s+(\S+)\s*$/m.exec(out)?.[1]),
  };
}

/** Peak resident set size of a process (Linux), in MiB. */
function peakRssMiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Runs wrk against `s`; on failure (say the server died) reports it and returns null. */
function tryWrk(s: Started, scenario: Scenario, seconds: number, dead: Set<string>): Run | null {
  try {
    return wrk(s.url, scenario.args, seconds);
  } catch (e) {
    console.error(`${s.target.name}: wrk failed, dropping it from the run: ${(e as Error).message}`);
    dead.add(s.target.name);
    return null;
  }
}

function ratio(results: Result[], r: Result, baseline: string): number | null {
  const base = results.find((b) => b.scenario === r.scenario && b.server === baseline);
  return base === undefined ? null : r.rps / base.rps;
}

/** The HTTP part's figures, as written to latest.json. */
interface HttpReport {
  date: string;
  machine: string;
  setup: string;
  results: Result[];
  peakRssMiB: Record<string, number>;
  skipped: Record<string, string>;
}

async function httpBench(): Promise<HttpReport> {
  if (spawnSync("wrk", ["--version"]).error !== undefined) {
    console.error("wrk is not installed: apt-get install wrk (Debian/Ubuntu) or brew install wrk (macOS)");
    process.exit(1);
  }
  const servers: Started[] = [];
  const skipped: Record<string, string> = {};
  for (const target of TARGETS) {
    try {
      servers.push(await start(target));
    } catch (e) {
      skipped[target.name] = (e as Error).message.split("\n")[0]!;
      console.error(`skipping ${target.name}: it did not start (${skipped[target.name]})`);
    }
  }

  const results: Result[] = [];
  const dead = new Set<string>();
  let rss: Record<string, number> = {};
  try {
    for (const scenario of SCENARIOS) {
      const live = () =>
        servers.filter((s) => s.target.scenarios.includes(scenario) && !dead.has(s.target.name));
      for (const s of live()) tryWrk(s, scenario, 1, dead); // warm-up: JIT, connection setup
      const runs = new Map<string, Run[]>(live().map((s) => [s.target.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const s of live()) {
          const r = tryWrk(s, scenario, DURATION, dead);
          if (r === null) continue;
          runs.get(s.target.name)!.push(r);
          console.error(
            `${scenario.name} / ${s.target.name} / round ${round + 1}: ${r.rps.toFixed(0)} req/s`,
          );
        }
      }
      for (const [server, rs] of runs) {
        if (dead.has(server) || rs.length === 0) continue;
        results.push({
          scenario: scenario.name,
          server,
          rps: median(rs.map((r) => r.rps)),
          p99ms: scenario.latency ? median(rs.map((r) => r.p99ms)) : null,
          vsNodeHttp: null,
          vsHonoNodeServer: null,
          runs: rs,
        });
      }
    }
  } finally {
    rss = Object.fromEntries(servers.map((s) => [s.target.name, peakRssMiB(s.child.pid)]));
    for (const s of servers) s.child.kill("SIGTERM");
  }

  for (const r of results) {
    r.vsNodeHttp = ratio(results, r, BASELINE);
    const peer = TARGETS.find((t) => t.name === r.server)?.peer;
    r.vsHonoNodeServer = peer === HONO_BASELINE ? ratio(results, r, HONO_BASELINE) : null;
  }

  const times = (x: number | null) => (x === null ? "" : `${x.toFixed(2)}×`);
  const rows = results.map((r) => [
    r.scenario,
    r.server,
    r.rps.toFixed(0),
    times(r.vsNodeHttp),
    times(r.vsHonoNodeServer),
    r.p99ms === null ? "(n/a)" : `${r.p99ms.toFixed(2)} ms`,
  ]);
  const header = [
    "scenario",
    "server",
    "req/s (median)",
    `vs ${BASELINE}`,
    `vs ${HONO_BASELINE}`,
    "p99 (median)",
  ];
  const table = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
  const rssLine = Object.entries(rss)
    .map(([name, mib]) => `${name} ${mib.toFixed(0)} MiB`)
    .join(", ");
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, Node ${process.version}`;
  const date = new Date().toISOString().slice(0, 10);
  const setup = `wrk -t1 -c${CONNECTIONS}, ${ROUNDS} interleaved rounds of ${DURATION} s${hasTaskset ? ", server and wrk pinned to separate CPUs" : ""}`;
  const skippedLine =
    Object.keys(skipped).length === 0 ? "" : `Skipped (did not start): ${Object.keys(skipped).join(", ")}.\n`;
  console.log(
    `Benchmark ${date} on ${machine}; ${setup}.\n\n${table}\n\nPeak RSS: ${rssLine}.\n${skippedLine}`,
  );
  return { date, machine, setup, results, peakRssMiB: rss, skipped };
}

async function main(): Promise<void> {
  const filter = process.argv[2];
  if (filter !== undefined && filter !== "http" && filter !== "ws") {
    console.error("usage: npm run bench [-- http | ws]");
    process.exit(2);
  }
  const file = `${ROOT}bench/results/latest.json`;
  let previous: (Partial<HttpReport> & { websocket?: Omit<WebSocketReport, "table"> }) | null = null;
  try {
    previous = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // No earlier results: the parts that run now are the whole file.
  }
  const http = filter === "ws" ? null : await httpBench();
  let websocket: Omit<WebSocketReport, "table"> | undefined = previous?.websocket;
  if (filter !== "http") {
    const { table, ...figures } = await runWebSocketBench();
    const skipped = Object.keys(figures.skipped);
    console.log(
      `WebSocket benchmark ${figures.date} on ${figures.machine}; ${figures.setup}.\n\n${table}\n` +
        (skipped.length === 0 ? "" : `Skipped: ${skipped.join(", ")}.\n`),
    );
    websocket = figures;
  }
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  const { websocket: _, ...previousHttp } = previous ?? {};
  writeFileSync(file, `${JSON.stringify({ ...(http ?? previousHttp), websocket }, null, 2)}\n`);
}

await main();
