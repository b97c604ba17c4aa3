/**
 * `npm run bench`: wrk against tsgi and its peers in one run, same machine,
 * same load, and a table of requests/s with the ratio to Node's `http`.
 * Settings: BENCH_DURATION (seconds per run, default 10), BENCH_CONNECTIONS
 * (default 100), BENCH_THREADS (wrk threads, default 1).
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);
const THREADS = Number(process.env.BENCH_THREADS ?? 1);

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
  { name: "node:http", command: [process.execPath, "--import", "tsx", "bench/peers/node_http.ts", "0"] },
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

function start(target: Target): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(target.command[0]!, target.command.slice(1), {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /Listening on (http:\/\/[^\s]+)/.exec(err);
      if (m !== null) resolve({ child, url: m[1]! });
    });
    child.on("exit", (code) => reject(new Error(`${target.name} exited with ${code}: ${err}`)));
  });
}

function wrk(url: string, args: string[], seconds: number): { rps: number; p50: string; p99: string } {
  const out = execFileSync(
    "wrk",
    ["-t", String(THREADS), "-c", String(CONNECTIONS), "-d", `${seconds}s`, "--latency", ...args, `${url}/`],
    { cwd: ROOT, encoding: "utf8" },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const p50 = /50%\s+(\S+)/.exec(out)?.[1] ?? "?";
  const p99 = /99%\s+(\S+)/.exec(out)?.[1] ?? "?";
  if (/Non-2xx or 3xx responses/.test(out) || /Socket errors/.test(out)) process.stderr.write(out);
  return { rps, p50, p99 };
}

async function main(): Promise<void> {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      console.error("wrk is not installed (apt-get install wrk)");
      process.exit(1);
    }
  }
  const rows: string[][] = [];
  for (const scenario of SCENARIOS) {
    const results: { name: string; rps: number; p50: string; p99: string }[] = [];
    for (const target of TARGETS) {
      const { child, url } = await start(target);
      wrk(url, scenario.args, 2); // warm-up: JIT and connection setup
      const r = wrk(url, scenario.args, DURATION);
      child.kill("SIGTERM");
      await new Promise((r2) => child.once("exit", r2));
      results.push({ name: target.name, ...r });
      console.error(`${scenario.name} / ${target.name}: ${r.rps.toFixed(0)} req/s`);
    }
    const base = results.find((r) => r.name === "node:http")!.rps;
    for (const r of results) {
      rows.push([scenario.name, r.name, r.rps.toFixed(0), (r.rps / base).toFixed(2), r.p50, r.p99]);
    }
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, Node ${process.version}`;
  const header = ["scenario", "server", "req/s", "vs node:http", "p50", "p99"];
  const table = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
  const report = `Benchmark ${new Date().toISOString().slice(0, 10)} on ${machine}; wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s.\n\n${table}\n`;
  console.log(report);
  mkdirSync(`${ROOT}.bench-results`, { recursive: true });
  writeFileSync(`${ROOT}.bench-results/latest.md`, report);
}

await main();
