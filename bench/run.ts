/**
 * `npm run bench`: wrk against tsgi and its peers in one run, on the same
 * machine and load. Servers are pinned to one CPU and wrk to another when
 * `taskset` exists; rounds are interleaved (A B C A B C ...) and medians kept,
 * so drift in the machine's speed hits every server alike.
 *
 * Targets: tsgi serving the WSGI-style hello world, a plain Fetch app, a
 * Hono app, a bare node:http `(req, res)` app and an Express app, against
 * Node's own `http` module serving that same `(req, res)` app (the baseline
 * of every row), @hono/node-server serving the same Hono app (the peer of
 * Hono rows) and node:http serving the same Express app (the peer of Express
 * rows). Each target lists the scenarios it runs; one that fails to start
 * (say the Fetch gateway is not built) is skipped with a message, not fatal.
 *
 * Besides req/s, each run reads the server's CPU time (user + system, from
 * /proc/PID/stat) and divides it by the requests wrk counted: on a shared
 * machine the CPU per request is steadier than req/s.
 *
 * Peak RSS: the VmHWM of each server's process at the end of the run, and,
 * for issue 15's target, medians of BENCH_PEAK_ROUNDS (default 5; 0 skips)
 * interleaved rounds of a fresh process per round under the same load
 * (bench/peak.ts: keep-alive, 16 pipelined and POST 4 KiB) for the bare
 * `(req, res)` app on tsgi and on node:http: one long-lived process's peak
 * depends on when V8 grew and shrank its young generation.
 *
 * Settings: BENCH_DURATION (seconds per run, default 5), BENCH_ROUNDS
 * (default 3), BENCH_CONNECTIONS (default 100), BENCH_TARGETS (a
 * comma-separated list of words: only the targets whose names contain one,
 * say `node,Express` for the node:http-style rows; default all). Results: a table on stdout
 * and bench/results/latest.json.
 *
 * `npm run bench -- http` runs only the HTTP part (wrk), `npm run bench -- ws`
 * only the WebSocket part (bench/ws.ts, which needs no wrk); without a filter
 * both run. A part left out keeps its previous figures in latest.json.
 */

import { type ChildProcess, execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { DEFAULT_PEAK_LOAD, type PeakLoad, peakRounds } from "./peak.ts";
import { hasTaskset, pinned, spawnPinned, waitListening } from "./servers.ts";
import { median } from "./stats.ts";
import { runWebSocketBench, type WebSocketReport } from "./ws.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
const PEAK_ROUNDS = Number(process.env.BENCH_PEAK_ROUNDS ?? 5);
const START_TIMEOUT_MS = 20_000;
const BASELINE = "node:http";
const HONO_BASELINE = "@hono/node-server";
const EXPRESS_BASELINE = "Express on node:http";
/** Clock ticks per second of /proc/PID/stat's CPU times. */
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

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
  /** A second baseline to compare this target with, besides node:http (the same app on another server). */
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
/**
 * A TypeScript peer, loaded as tsgi loads a `.ts` app (src/loader/load.ts): by
 * Node's own type stripping where Node has it (in-process, as tsgi pays for
 * it), else by tsx. With tsx on Node 24 the peers paid for TypeScript in
 * esbuild's child process, outside their RSS, while tsgi paid for Node's
 * stripper inside it (about 16 MiB of peak RSS).
 */
const typeScript = (...args: string[]) =>
  typeof (process.features as { typescript?: unknown }).typescript === "string"
    ? [process.execPath, ...args]
    : [process.execPath, "--import", "tsx", ...args];

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
  {
    name: "tsgi (node, bare (req, res))",
    command: tsgi("--interface", "node", "bench/apps/hello_node.ts"),
    scenarios: SCENARIOS,
  },
  {
    name: "tsgi (node, Express)",
    command: tsgi("--interface", "node", "bench/apps/hello_express.ts"),
    scenarios: [KEEP_ALIVE, PIPELINED],
    peer: EXPRESS_BASELINE,
  },
  { name: BASELINE, command: typeScript("bench/peers/node_http.ts", "0"), scenarios: SCENARIOS },
  {
    name: HONO_BASELINE,
    command: typeScript("bench/peers/hono_node_server.ts", "0"),
    scenarios: [KEEP_ALIVE, PIPELINED],
    peer: HONO_BASELINE,
  },
  {
    name: EXPRESS_BASELINE,
    command: typeScript("bench/peers/express_node_http.ts", "0"),
    scenarios: [KEEP_ALIVE, PIPELINED],
    peer: EXPRESS_BASELINE,
  },
];

interface Run {
  rps: number;
  p99ms: number;
  /** The server's user + system CPU time per request, in microseconds. */
  cpuUs: number;
}

interface Result {
  scenario: string;
  server: string;
  rps: number;
  /** Null where wrk's latency is not meaningful (pipelined runs). */
  p99ms: number | null;
  /** Median server CPU time (user + system) per request, µs. */
  cpuUs: number;
  vsNodeHttp: number | null;
  /** The target's peer (the same app on another server), and req/s against it. */
  peer: string | null;
  vsPeer: number | null;
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

/** A process's user + system CPU time so far, in clock ticks (Linux; NaN elsewhere). */
function cpuTicks(pid: number | undefined): number {
  try {
    // Fields after the parenthesised command name: state is the 3rd field, utime the 14th, stime the 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return Number.NaN;
  }
}

function wrk(url: string, args: string[], seconds: number, pid: number | undefined): Run {
  const [cmd, ...rest] = pinned(1, [
    "wrk",
    "-t1",
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    "--latency",
    ...args,
    `${url}/`,
  ]);
  const before = cpuTicks(pid);
  const out = execFileSync(cmd!, rest, { cwd: ROOT, encoding: "utf8" });
  const ticks = cpuTicks(pid) - before;
  if (/Non-2xx or 3xx responses|Socket errors/.test(out)) process.stderr.write(out);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
  return {
    cpuUs: (ticks / CLOCK_TICKS / requests) * 1e6,
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
    return wrk(s.url, scenario.args, seconds, s.child.pid);
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
  /** Medians of the fresh-process peak rounds (bench/peak.ts), by server; empty when skipped. */
  peakRssRoundsMiB: Record<string, number>;
  /** How the peak rounds were run. */
  peakRounds: string;
  /** The 1-minute load average when the run began and when it ended (others' work on a shared machine). */
  loadAverage: { start: number; end: number };
  skipped: Record<string, string>;
}

/** The servers of the fresh-process peak rounds: issue 15's peak-RSS target compares these two. */
const PEAK_TARGETS = ["tsgi (node, bare (req, res))", BASELINE];

/** Issue 15's targets for the node:http-style gateway: [label, server, baseline, scenario, at least]. */
const NODE_TARGETS: [string, string, string, Scenario, number][] = [
  ["bare (req, res), keep-alive", "tsgi (node, bare (req, res))", BASELINE, KEEP_ALIVE, 1.15],
  ["bare (req, res), 16 pipelined", "tsgi (node, bare (req, res))", BASELINE, PIPELINED, 2],
  ["bare (req, res), POST 4 KiB", "tsgi (node, bare (req, res))", BASELINE, POST, 1.1],
  ["Express, keep-alive", "tsgi (node, Express)", EXPRESS_BASELINE, KEEP_ALIVE, 1],
];

/** One line per issue-15 target: the ratio, the bar and whether it is met (peak RSS from the fresh-process rounds). */
function nodeTargetLines(results: Result[], rss: Record<string, number>): string {
  const lines = NODE_TARGETS.map(([label, server, baseline, scenario, bar]) => {
    const r = results.find((x) => x.server === server && x.scenario === scenario.name);
    const x = r === undefined ? null : ratio(results, r, baseline);
    if (x === null || Number.isNaN(x)) return `- ${label}: not measured (needs ≥ ${bar}× ${baseline})`;
    return `- ${label}: ${x.toFixed(2)}× ${baseline} (target ≥ ${bar}×) ${x >= bar ? "met" : "NOT met"}`;
  });
  const mine = rss["tsgi (node, bare (req, res))"];
  const base = rss[BASELINE];
  if (mine !== undefined && base !== undefined) {
    const cap = base * 1.1;
    lines.push(
      `- peak RSS, bare (req, res), median of ${PEAK_ROUNDS} fresh-process rounds: ${mine.toFixed(1)} MiB vs ${BASELINE} ${base.toFixed(1)} MiB (target ≤ ${cap.toFixed(1)} MiB) ${mine <= cap ? "met" : "NOT met"}`,
    );
  }
  return lines.join("\n");
}

async function httpBench(): Promise<HttpReport> {
  if (spawnSync("wrk", ["--version"]).error !== undefined) {
    console.error("wrk is not installed: apt-get install wrk (Debian/Ubuntu) or brew install wrk (macOS)");
    process.exit(1);
  }
  const loadStart = loadavg()[0]!;
  const servers: Started[] = [];
  const skipped: Record<string, string> = {};
  const only = process.env.BENCH_TARGETS?.split(",").filter((w) => w !== "");
  for (const target of TARGETS) {
    if (only !== undefined && !only.some((w) => target.name.includes(w))) continue;
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
            `${scenario.name} / ${s.target.name} / round ${round + 1}: ${r.rps.toFixed(0)} req/s, ${r.cpuUs.toFixed(1)} µs CPU/req`,
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
          cpuUs: median(rs.map((r) => r.cpuUs)),
          vsNodeHttp: null,
          peer: null,
          vsPeer: null,
          runs: rs,
        });
      }
    }
  } finally {
    rss = Object.fromEntries(servers.map((s) => [s.target.name, peakRssMiB(s.child.pid)]));
    for (const s of servers) s.child.kill("SIGTERM");
  }

  const peakLoad: PeakLoad = { ...DEFAULT_PEAK_LOAD, post: true, connections: CONNECTIONS };
  const peakServers = PEAK_TARGETS.flatMap((name) => {
    const ran = servers.some((s) => s.target.name === name && !dead.has(name));
    const target = TARGETS.find((t) => t.name === name);
    return ran && target !== undefined ? [{ name, command: target.command }] : [];
  });
  const roundsRss: Record<string, number> = {};
  if (PEAK_ROUNDS > 0 && peakServers.length === PEAK_TARGETS.length) {
    const peaks = await peakRounds(peakServers, peakLoad, PEAK_ROUNDS, (name, round, bytes) =>
      console.error(`peak RSS / ${name} / round ${round + 1}: ${(bytes / 1048576).toFixed(1)} MiB`),
    );
    for (const [name, bytes] of peaks) roundsRss[name] = bytes / 1048576;
  }
  const peakSetup = `a fresh process per round, wrk -t1 -c${peakLoad.connections}: keep-alive, 16 pipelined, POST 4 KiB, each a 1 s warm-up and ${peakLoad.runs} runs of ${peakLoad.seconds} s with ${peakLoad.restMs / 1000} s of rest after each; VmHWM; medians of ${PEAK_ROUNDS} interleaved rounds`;

  for (const r of results) {
    r.vsNodeHttp = ratio(results, r, BASELINE);
    const peer = TARGETS.find((t) => t.name === r.server)?.peer;
    if (peer !== undefined) {
      r.peer = peer;
      r.vsPeer = ratio(results, r, peer);
    }
  }

  const times = (x: number | null) => (x === null ? "" : `${x.toFixed(2)}×`);
  const rows = results.map((r) => [
    r.scenario,
    r.server,
    r.rps.toFixed(0),
    times(r.vsNodeHttp),
    r.peer === null ? "" : `${times(r.vsPeer)} ${r.peer}`,
    `${r.cpuUs.toFixed(1)} µs`,
    r.p99ms === null ? "(n/a)" : `${r.p99ms.toFixed(2)} ms`,
  ]);
  const header = [
    "scenario",
    "server",
    "req/s (median)",
    `vs ${BASELINE}`,
    "vs the same app's peer",
    "CPU/req (median)",
    "p99 (median)",
  ];
  const table = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
  const rssLine = Object.entries(rss)
    .map(([name, mib]) => `${name} ${mib.toFixed(0)} MiB`)
    .join(", ");
  const roundsLine =
    Object.keys(roundsRss).length === 0
      ? ""
      : `Peak RSS, ${peakSetup}: ${Object.entries(roundsRss)
          .map(([name, mib]) => `${name} ${mib.toFixed(1)} MiB`)
          .join(", ")}.\n`;
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, Node ${process.version}`;
  const date = new Date().toISOString().slice(0, 10);
  const setup = `wrk -t1 -c${CONNECTIONS}, ${ROUNDS} interleaved rounds of ${DURATION} s${hasTaskset ? ", server and wrk pinned to separate CPUs" : ""}`;
  const skippedLine =
    Object.keys(skipped).length === 0 ? "" : `Skipped (did not start): ${Object.keys(skipped).join(", ")}.\n`;
  const loadAverage = { start: loadStart, end: loadavg()[0]! };
  console.log(
    `Benchmark ${date} on ${machine}; ${setup}; load average ${loadAverage.start.toFixed(2)} at the start, ${loadAverage.end.toFixed(2)} at the end.\n\n${table}\n\nPeak RSS of each server's process over the whole run: ${rssLine}.\n${roundsLine}${skippedLine}\nnode:http-style gateway targets (issue 15):\n${nodeTargetLines(results, roundsRss)}\n`,
  );
  return {
    date,
    machine,
    setup,
    results,
    peakRssMiB: rss,
    peakRssRoundsMiB: roundsRss,
    peakRounds: peakSetup,
    loadAverage,
    skipped,
  };
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
