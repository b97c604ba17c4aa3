/**
 * `npm run bench`: wrk against tsgi and its peers in one run, on the same
 * machine and load. Servers are pinned to one CPU and wrk to another when
 * `taskset` exists; rounds are interleaved (A B A B ...) and medians kept, so
 * drift in the machine's speed hits every server alike.
 *
 * Settings: BENCH_DURATION (seconds per run, default 5), BENCH_ROUNDS
 * (default 3), BENCH_CONNECTIONS (default 100). Results: a table on stdout
 * and bench/results/latest.json.
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
const BASELINE = "node:http";

interface Target {
  name: string;
  command: string[];
}

const TARGETS: Target[] = [
  {
    name: "tsgi (WSGI-style)",
    command: [
      process.execPath,
      "dist/cli/main.js",
      "--port",
      "0",
      "--no-access-log",
      "bench/apps/hello_wsgi.ts",
    ],
  },
  { name: BASELINE, command: [process.execPath, "--import", "tsx", "bench/peers/node_http.ts", "0"] },
];

interface Scenario {
  name: string;
  args: string[];
}

const SCENARIOS: Scenario[] = [
  { name: "GET hello, keep-alive", args: [] },
  { name: "GET hello, 16 pipelined", args: ["-s", "bench/pipeline.lua"] },
  { name: "POST 4 KiB body", args: ["-s", "bench/post.lua"] },
];

interface Run {
  rps: number;
  p99ms: number;
}

const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0 && cpus().length >= 2;
const pin = (cpu: number, command: string[]) =>
  hasTaskset ? ["taskset", "-c", String(cpu), ...command] : command;

function start(target: Target): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = pin(0, target.command);
    const child = spawn(cmd!, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /Listening on (http:\/\/[^\s]+)/.exec(err);
      if (m !== null) resolve({ child, url: m[1]! });
    });
    child.on("exit", (code) => reject(new Error(`${target.name} exited with ${code}: ${err}`)));
  });
}

/** wrk's latency figures, e.g. "1.23ms" or "950.00us", in milliseconds. */
function toMs(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? "");
  if (m === null) return Number.NaN;
  const scale = m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1;
  return Number(m[1]) * scale;
}

function wrk(url: string, args: string[], seconds: number): Run {
  const [cmd, ...rest] = pin(1, [
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
    p99ms: toMs(/99%\s+(\S+)/.exec(out)?.[1]),
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (spawnSync("wrk", ["--version"]).error !== undefined) {
    console.error("wrk is not installed: apt-get install wrk (Debian/Ubuntu) or brew install wrk (macOS)");
    process.exit(1);
  }
  const servers = [];
  for (const target of TARGETS) servers.push({ target, ...(await start(target)) });

  const results: { scenario: string; server: string; rps: number; p99ms: number; runs: Run[] }[] = [];
  let rss: Record<string, number> = {};
  try {
    for (const scenario of SCENARIOS) {
      for (const s of servers) wrk(s.url, scenario.args, 1); // warm-up: JIT, connection setup
      const runs = new Map<string, Run[]>(servers.map((s) => [s.target.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const s of servers) {
          const r = wrk(s.url, scenario.args, DURATION);
          runs.get(s.target.name)!.push(r);
          console.error(
            `${scenario.name} / ${s.target.name} / round ${round + 1}: ${r.rps.toFixed(0)} req/s`,
          );
        }
      }
      for (const [server, rs] of runs) {
        results.push({
          scenario: scenario.name,
          server,
          rps: median(rs.map((r) => r.rps)),
          p99ms: median(rs.map((r) => r.p99ms)),
          runs: rs,
        });
      }
    }
  } finally {
    rss = Object.fromEntries(servers.map((s) => [s.target.name, peakRssMiB(s.child.pid)]));
    for (const s of servers) s.child.kill("SIGTERM");
  }

  const rows = results.map((r) => {
    const base = results.find((b) => b.scenario === r.scenario && b.server === BASELINE)!;
    return [
      r.scenario,
      r.server,
      r.rps.toFixed(0),
      `${(r.rps / base.rps).toFixed(2)}×`,
      `${r.p99ms.toFixed(2)} ms`,
    ];
  });
  const header = ["scenario", "server", "req/s (median)", `vs ${BASELINE}`, "p99 (median)"];
  const table = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
  const rssLine = Object.entries(rss)
    .map(([name, mib]) => `${name} ${mib.toFixed(0)} MiB`)
    .join(", ");
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, Node ${process.version}`;
  const date = new Date().toISOString().slice(0, 10);
  const setup = `wrk -t1 -c${CONNECTIONS}, ${ROUNDS} interleaved rounds of ${DURATION} s${hasTaskset ? ", server and wrk pinned to separate CPUs" : ""}`;
  console.log(`Benchmark ${date} on ${machine}; ${setup}.\n\n${table}\n\nPeak RSS: ${rssLine}.\n`);

  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(
    `${ROOT}bench/results/latest.json`,
    `${JSON.stringify({ date, machine, setup, results, peakRssMiB: rss }, null, 2)}\n`,
  );
}

await main();
