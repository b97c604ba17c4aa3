/**
 * `npm run bench:cpu`: the floors table (issue 16, part 1). For each server
 * under the same wrk load, the server's user and system CPU microseconds per
 * request (deltas of utime and stime in /proc/PID/stat over the wrk run,
 * divided by wrk's request count) and its req/s. Linux only (needs /proc).
 *
 * Servers: two canned-response references that parse nothing (the floor of
 * the `node:net` stream, and of the socket's libuv handle below it), tsgi's
 * Fetch (sync and async handler), WSGI-style and Hono apps, node:http and
 * @hono/node-server. Scenarios:
 * keep-alive and 16 pipelined requests per write (bench/pipeline.lua).
 *
 * Servers on CPU 0 and wrk on CPU 1 (taskset); rounds interleaved (every
 * server once per round), medians of the rounds, so the drift of a shared
 * machine hits every server alike. CPU per request is the steadier figure on
 * a loaded machine; compare ratios within one run.
 *
 * Settings: BENCH_DURATION (seconds per run, default 3), BENCH_ROUNDS
 * (default 5), BENCH_CONNECTIONS (default 64). Arguments filter the servers
 * by a substring of their name (`npm run bench:cpu -- fetch canned`).
 * Results: a table on stdout and bench/results/cpu-<node major>.json.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { hasTaskset, type Listening, pinned, spawnPinned, stopServer, waitListening } from "./servers.ts";
import { median } from "./stats.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const NODE_MAJOR = Number(process.versions.node.split(".")[0]);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

const BASELINE = "node:http";
const FLOOR = "canned node:net";

interface Scenario {
  name: string;
  args: string[];
}

const SCENARIOS: Scenario[] = [
  { name: "keep-alive", args: [] },
  { name: "16 pipelined", args: ["-s", "bench/pipeline.lua"] },
];

interface Target {
  name: string;
  command: string[];
}

const node = (...args: string[]) => [process.execPath, ...args];
const tsx = (...args: string[]) => node("--import", "tsx", ...args);
const tsgi = (...args: string[]) => node("dist/cli/main.js", "--port", "0", "--no-access-log", ...args);

const TARGETS: Target[] = [
  { name: FLOOR, command: tsx("bench/peers/canned.ts", "0") },
  { name: "canned socket handle", command: tsx("bench/peers/canned_handle.ts", "0") },
  { name: "canned user buffer", command: tsx("bench/peers/canned_userbuf.ts", "0") },
  { name: "tsgi Fetch", command: tsgi("--interface", "fetch", "bench/apps/hello_fetch.ts") },
  {
    name: "tsgi Fetch, stream reads",
    command: tsgi("--socket-reads", "stream", "--interface", "fetch", "bench/apps/hello_fetch.ts"),
  },
  { name: "tsgi Fetch async", command: tsgi("--interface", "fetch", "bench/apps/hello_fetch_async.ts") },
  { name: "tsgi WSGI-style", command: tsgi("bench/apps/hello_wsgi.ts") },
  { name: "tsgi node (req, res)", command: tsgi("--interface", "node", "bench/apps/hello_node.ts") },
  {
    name: "tsgi node (req, res), stream reads",
    command: tsgi("--socket-reads", "stream", "--interface", "node", "bench/apps/hello_node.ts"),
  },
  { name: "tsgi Hono", command: tsgi("--interface", "fetch", "bench/apps/hello_hono.ts") },
  { name: BASELINE, command: tsx("bench/peers/node_http.ts", "0") },
  { name: "@hono/node-server", command: tsx("bench/peers/hono_node_server.ts", "0") },
];

/** One wrk run's figures for one server. */
interface Sample {
  rps: number;
  requests: number;
  userUs: number;
  sysUs: number;
}

interface Row {
  scenario: string;
  server: string;
  /** Medians over the rounds. */
  rps: number;
  userUsPerReq: number;
  sysUsPerReq: number;
  cpuUsPerReq: number;
  /** Request rate relative to node:http in the same scenario. */
  rpsVsNodeHttp: number | null;
  /** (user + system) CPU per request relative to node:http's. */
  cpuVsNodeHttp: number | null;
  /** User CPU per request relative to the canned node:net floor's. */
  userVsFloor: number | null;
  samples: Sample[];
}

/** utime and stime of `pid` in clock ticks (fields 14 and 15 of /proc/PID/stat). */
function cpuTicks(pid: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [Number(fields[11]), Number(fields[12])];
}

function wrk(url: string, scenario: Scenario, seconds: number): { rps: number; requests: number } {
  const [cmd, ...rest] = pinned(1, [
    "wrk",
    "-t1",
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    ...scenario.args,
    `${url}/`,
  ]);
  const out = execFileSync(cmd!, rest, { cwd: ROOT, encoding: "utf8" });
  if (/Non-2xx or 3xx responses|Socket errors/.test(out)) process.stderr.write(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN),
  };
}

function measure(server: Listening, scenario: Scenario): Sample {
  const pid = server.child.pid!;
  const [u1, s1] = cpuTicks(pid);
  const { rps, requests } = wrk(server.url, scenario, DURATION);
  const [u2, s2] = cpuTicks(pid);
  const perTick = 1e6 / CLK_TCK;
  return {
    rps,
    requests,
    userUs: ((u2 - u1) * perTick) / requests,
    sysUs: ((s2 - s1) * perTick) / requests,
  };
}

const fmt = (x: number, digits = 1) => (Number.isNaN(x) ? "–" : x.toFixed(digits));
const times = (x: number | null) => (x === null || Number.isNaN(x) ? "" : `${x.toFixed(2)}×`);

async function main(): Promise<void> {
  if (spawnSync("wrk", ["--version"]).error !== undefined) {
    console.error("wrk is not installed: apt-get install wrk (Debian/Ubuntu)");
    process.exit(1);
  }
  const filters = process.argv.slice(2).map((f) => f.toLowerCase());
  const targets =
    filters.length === 0
      ? TARGETS
      : TARGETS.filter((t) => filters.some((f) => t.name.toLowerCase().includes(f)));
  const servers = new Map<string, Listening>();
  for (const target of targets) {
    try {
      servers.set(target.name, await waitListening(spawnPinned(0, target.command)));
    } catch (e) {
      console.error(`skipping ${target.name}: it did not start (${(e as Error).message.split("\n")[0]})`);
    }
  }
  const samples = new Map<string, Sample[]>();
  try {
    // Warm-up: let the JIT settle before anything counts.
    for (const [, server] of servers) for (const s of SCENARIOS) wrk(server.url, s, 1);
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`round ${round}/${ROUNDS}\n`);
      for (const scenario of SCENARIOS) {
        for (const [name, server] of servers) {
          const key = `${scenario.name}\0${name}`;
          const list = samples.get(key) ?? [];
          list.push(measure(server, scenario));
          samples.set(key, list);
        }
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => stopServer(s.child)));
  }

  const rows: Row[] = [];
  for (const scenario of SCENARIOS) {
    for (const name of servers.keys()) {
      const list = samples.get(`${scenario.name}\0${name}`) ?? [];
      const user = median(list.map((s) => s.userUs));
      const sys = median(list.map((s) => s.sysUs));
      rows.push({
        scenario: scenario.name,
        server: name,
        rps: median(list.map((s) => s.rps)),
        userUsPerReq: user,
        sysUsPerReq: sys,
        cpuUsPerReq: median(list.map((s) => s.userUs + s.sysUs)),
        rpsVsNodeHttp: null,
        cpuVsNodeHttp: null,
        userVsFloor: null,
        samples: list,
      });
    }
  }
  for (const row of rows) {
    const base = rows.find((r) => r.scenario === row.scenario && r.server === BASELINE);
    const floor = rows.find((r) => r.scenario === row.scenario && r.server === FLOOR);
    if (base !== undefined) {
      row.rpsVsNodeHttp = row.rps / base.rps;
      row.cpuVsNodeHttp = row.cpuUsPerReq / base.cpuUsPerReq;
    }
    if (floor !== undefined) row.userVsFloor = row.userUsPerReq / floor.userUsPerReq;
  }

  const setup =
    `Node ${process.version}; wrk -t1 -c${CONNECTIONS}, ${ROUNDS} interleaved rounds of ${DURATION} s, ` +
    (hasTaskset ? "server on CPU 0, wrk on CPU 1" : "not pinned (no taskset or one CPU)");
  console.log(`\n${setup}\n`);
  console.log(
    "| scenario | server | req/s | user µs/req | sys µs/req | CPU µs/req | req/s vs node:http | CPU vs node:http | user vs canned |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    console.log(
      `| ${r.scenario} | ${r.server} | ${fmt(r.rps, 0)} | ${fmt(r.userUsPerReq)} | ${fmt(r.sysUsPerReq)} | ` +
        `${fmt(r.cpuUsPerReq)} | ${times(r.rpsVsNodeHttp)} | ${times(r.cpuVsNodeHttp)} | ${times(r.userVsFloor)} |`,
    );
  }
  const dir = new URL("results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`cpu-${NODE_MAJOR}.json`, dir);
  const report = {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? "unknown CPU"}`,
    setup,
    rows,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwritten to ${fileURLToPath(file)}`);
}

await main();
