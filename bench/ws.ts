/**
 * The WebSocket part of `npm run bench` (`npm run bench -- ws` runs only
 * this): tsgi serving examples/ws_echo.ts through the CLI against the `ws`
 * package's server (bench/peers/ws_echo.ts), driven by the same load client
 * (bench/ws-load.ts) in its own process.
 *
 * - Echo: round-trip messages per second, BENCH_WS_CONNECTIONS connections
 *   (default 64) each keeping one, then eight 32-byte text messages in
 *   flight (BENCH_WS_IN_FLIGHT, default "1,8"); rounds interleaved (tsgi,
 *   ws, floor, tsgi, ...) and medians kept, as for HTTP; also the server's
 *   CPU time per message, from /proc/PID/stat. The floor
 *   (bench/peers/raw_ws_echo.ts, echo rounds only) is a bare frame echo on
 *   node:net: while it goes faster than both, the load client is not what
 *   limits them.
 * - Large messages: one connection echoing 1 MiB, then 16 MiB binary
 *   messages one at a time for BENCH_WS_LARGE_SECONDS (default 3) per
 *   round; MiB/s of payload echoed, rounds interleaved like the echo rounds,
 *   the ratio the median of per-round ratios; also the server's CPU time per
 *   message.
 * - Capacity: BENCH_WS_IDLE idle WebSockets (default 10,000) held open to
 *   one fresh server process; the server's resident memory (VmRSS) is read
 *   before and after, and the difference divided by the count. Just RSS, so
 *   it counts everything a connection costs: JS objects, socket buffers,
 *   native handles, and any garbage the handshakes left behind.
 *
 * Servers are pinned to CPU 0 and the load client to CPU 1 when `taskset`
 * exists, and both run with `ulimit -n 65536` (or the hard limit if lower)
 * so ten thousand sockets fit.
 */

import { type ChildProcess, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { hasTaskset, spawnPinned, stopServer, waitListening } from "./servers.ts";
import { median } from "./stats.ts";

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_WS_CONNECTIONS ?? 64);
const IDLE = Number(process.env.BENCH_WS_IDLE ?? 10_000);
/** Capacity rounds are slow (a fresh server and ten thousand handshakes each): fewer of them. */
const CAPACITY_ROUNDS = Number(process.env.BENCH_WS_CAPACITY_ROUNDS ?? 2);
const MESSAGE_SIZE = 32;
const LARGE_SIZES = [1024 * 1024, 16 * 1024 * 1024];
const LARGE_SECONDS = Number(process.env.BENCH_WS_LARGE_SECONDS ?? 3);
const START_TIMEOUT_MS = 20_000;
/** Time for opening all idle connections; generous, a slow shared machine opens about a thousand a second. */
const HOLD_TIMEOUT_MS = 180_000;
const BASELINE = "ws";
const FLOOR = "floor (bare node:net echo)";
/** Messages in flight per connection in the echo rounds, one scenario each. */
const IN_FLIGHT = (process.env.BENCH_WS_IN_FLIGHT ?? "1,8").split(",").map(Number);

interface Target {
  name: string;
  command: string[];
  /** Only in the echo rounds (the floor, which has no limits or close handshake). */
  echoOnly?: boolean;
}

const TARGETS: Target[] = [
  {
    name: "tsgi (Fetch)",
    command: [process.execPath, "dist/cli/main.js", "--port", "0", "--no-access-log", "examples/ws_echo.ts"],
  },
  { name: BASELINE, command: [process.execPath, "--import", "tsx", "bench/peers/ws_echo.ts", "0"] },
  {
    name: FLOOR,
    command: [process.execPath, "--import", "tsx", "bench/peers/raw_ws_echo.ts", "0"],
    echoOnly: true,
  },
];
/** Which parts run (BENCH_WS_PARTS, default all three). */
const PARTS = (process.env.BENCH_WS_PARTS ?? "echo,large,capacity").split(",");

const LOAD = [process.execPath, "--import", "tsx", "bench/ws-load.ts"];

interface Started {
  target: Target;
  child: ChildProcess;
  port: number;
}

/** Starts a server (allowed many open files) and waits for its "Listening on" line. */
async function start(target: Target): Promise<Started> {
  const child = spawnPinned(0, target.command, { manyFiles: true });
  const { port } = await waitListening(child, START_TIMEOUT_MS);
  return { target, child, port };
}

/** Servers are killed outright: what is measured is over, and a drain would only wait. */
const stop = (child: ChildProcess) => stopServer(child, "SIGKILL");

/** Runs the load client to completion and parses the JSON line it prints. */
function runLoad(args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawnPinned(1, [...LOAD, ...args], { stdout: "pipe", manyFiles: true });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    child.on("exit", (code) => {
      if (code === 0 && out.trim() !== "") resolve(JSON.parse(out));
      else reject(new Error(`load client exited with ${code}: ${err.trim().split("\n")[0]}`));
    });
  });
}

/** Starts the load client holding `count` idle connections; resolves once all are open. */
function hold(port: number, count: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawnPinned(1, [...LOAD, "hold", String(port), String(count)], {
      stdout: "pipe",
      manyFiles: true,
    });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${count} connections not open within ${HOLD_TIMEOUT_MS / 1000} s`));
    }, HOLD_TIMEOUT_MS);
    child.stderr!.on("data", (d) => (err += d));
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("\n")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`load client exited with ${code}: ${err.trim().split("\n")[0]}`));
    });
  });
}

/**
 * CPU time a process has used (user + system, Linux), in microseconds: per
 * message it is steadier than messages/s on a shared machine, where other
 * load delays both sides without adding to either one's CPU time.
 */
function cpuMicros(pid: number | undefined): number {
  try {
    // Fields 14 and 15 (utime, stime) in clock ticks, after the parenthesized command name.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** Resident memory of a process (Linux), in bytes. */
function rssBytes(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface EchoResult {
  server: string;
  /** Messages in flight per connection. */
  inFlight: number;
  messagesPerSecond: number;
  /** The server's CPU time per round trip, in µs (median over rounds). */
  cpuMicrosPerMessage: number;
  /** The median of the per-round ratios to ws. */
  vsWs: number | null;
  runs: { messagesPerSecond: number; cpuMicrosPerMessage: number }[];
}

export interface LargeResult {
  server: string;
  /** Bytes per message. */
  size: number;
  /** Message payload echoed per second, MiB (median over rounds). */
  mibPerSecond: number;
  /** The server's CPU time per message, in µs (median over rounds). */
  cpuMicrosPerMessage: number;
  /** The median of the per-round ratios to ws. */
  vsWs: number | null;
  runs: { mibPerSecond: number; cpuMicrosPerMessage: number }[];
}

export interface CapacityResult {
  server: string;
  connections: number;
  bytesPerConnection: number;
  vsWs: number | null;
  runs: { rssBeforeMiB: number; rssAfterMiB: number; bytesPerConnection: number; openSeconds: number }[];
}

export interface WebSocketReport {
  date: string;
  machine: string;
  setup: string;
  echo: EchoResult[];
  large: LargeResult[];
  capacity: CapacityResult[];
  skipped: Record<string, string>;
  table: string;
}

async function echoBench(skipped: Record<string, string>, inFlight: number): Promise<EchoResult[]> {
  const servers: Started[] = [];
  for (const target of TARGETS) {
    if (skipped[target.name] !== undefined) continue;
    try {
      servers.push(await start(target));
    } catch (e) {
      skipped[target.name] = (e as Error).message.split("\n")[0]!;
      console.error(`skipping ${target.name}: it did not start (${skipped[target.name]})`);
    }
  }
  const runs = new Map<string, EchoResult["runs"]>(servers.map((s) => [s.target.name, []]));
  const load = (s: Started, seconds: number) =>
    runLoad([
      "echo",
      String(s.port),
      String(CONNECTIONS),
      String(seconds),
      String(MESSAGE_SIZE),
      String(inFlight),
    ]);
  /** Runs the load client against `s`; a failure (say the server refuses upgrades) drops the server. */
  const tryLoad = async (s: Started, seconds: number) => {
    if (skipped[s.target.name] !== undefined) return null;
    try {
      return await load(s, seconds);
    } catch (e) {
      skipped[s.target.name] = (e as Error).message.split("\n")[0]!;
      console.error(`${s.target.name}: echo run failed, dropping it (${skipped[s.target.name]})`);
      return null;
    }
  };
  try {
    for (const s of servers) await tryLoad(s, 1); // warm-up: JIT, buffers
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of servers) {
        const cpuBefore = cpuMicros(s.child.pid);
        const r = await tryLoad(s, DURATION);
        if (r === null) continue;
        const rate = r.roundTrips! / r.seconds!;
        const cpu = (cpuMicros(s.child.pid) - cpuBefore) / r.roundTrips!;
        runs.get(s.target.name)!.push({ messagesPerSecond: rate, cpuMicrosPerMessage: cpu });
        console.error(
          `WebSocket echo, ${inFlight} in flight / ${s.target.name} / round ${round + 1}: ${rate.toFixed(0)} messages/s, ` +
            `${cpu.toFixed(1)} µs CPU per message`,
        );
      }
    }
  } finally {
    await Promise.all(servers.map((s) => stop(s.child)));
  }
  const results = [...runs]
    .filter(([server]) => skipped[server] === undefined)
    .map(([server, rs]) => ({
      server,
      inFlight,
      messagesPerSecond: median(rs.map((r) => r.messagesPerSecond)),
      cpuMicrosPerMessage: median(rs.map((r) => r.cpuMicrosPerMessage)),
      vsWs: null as number | null,
      runs: rs,
    }));
  // The ratio is the median of each round's ratio, not a ratio of medians: the
  // rounds are paired (back to back), so a shared machine's drift between
  // rounds cancels out instead of landing on whichever server it hit.
  const base = results.find((r) => r.server === BASELINE);
  for (const r of results) {
    if (base === undefined || base.runs.length !== r.runs.length) continue;
    r.vsWs = median(r.runs.map((run, i) => run.messagesPerSecond / base.runs[i]!.messagesPerSecond));
  }
  return results;
}

/** Large-message echoes: for each size, interleaved rounds over the servers (fresh ones, warmed up once per size). */
async function largeBench(skipped: Record<string, string>): Promise<LargeResult[]> {
  const servers: Started[] = [];
  for (const target of TARGETS) {
    if (skipped[target.name] !== undefined || target.echoOnly) continue;
    try {
      servers.push(await start(target));
    } catch (e) {
      skipped[target.name] = (e as Error).message.split("\n")[0]!;
    }
  }
  const results: LargeResult[] = [];
  const label = (size: number) => `${size / 2 ** 20} MiB`;
  try {
    for (const size of LARGE_SIZES) {
      const runs = new Map<string, LargeResult["runs"]>(servers.map((s) => [s.target.name, []]));
      const tryLoad = async (s: Started, seconds: number) => {
        if (skipped[s.target.name] !== undefined) return null;
        try {
          return await runLoad(["large", String(s.port), String(size), String(seconds)]);
        } catch (e) {
          skipped[s.target.name] = (e as Error).message.split("\n")[0]!;
          console.error(
            `${s.target.name}: large-message run failed, dropping it (${skipped[s.target.name]})`,
          );
          return null;
        }
      };
      for (const s of servers) await tryLoad(s, 1); // warm-up
      for (let round = 0; round < ROUNDS; round++) {
        for (const s of servers) {
          const cpuBefore = cpuMicros(s.child.pid);
          const r = await tryLoad(s, LARGE_SECONDS);
          if (r === null) continue;
          const rate = r.bytes! / 2 ** 20 / r.seconds!;
          const cpu = (cpuMicros(s.child.pid) - cpuBefore) / r.messages!;
          runs.get(s.target.name)!.push({ mibPerSecond: rate, cpuMicrosPerMessage: cpu });
          console.error(
            `WebSocket ${label(size)} echo / ${s.target.name} / round ${round + 1}: ${rate.toFixed(0)} MiB/s, ` +
              `${(cpu / 1000).toFixed(1)} ms CPU per message`,
          );
        }
      }
      const sized = [...runs]
        .filter(([server]) => skipped[server] === undefined)
        .map(([server, rs]) => ({
          server,
          size,
          mibPerSecond: median(rs.map((r) => r.mibPerSecond)),
          cpuMicrosPerMessage: median(rs.map((r) => r.cpuMicrosPerMessage)),
          vsWs: null as number | null,
          runs: rs,
        }));
      const base = sized.find((r) => r.server === BASELINE);
      for (const r of sized) {
        if (base === undefined || base.runs.length !== r.runs.length) continue;
        r.vsWs = median(r.runs.map((run, i) => run.mibPerSecond / base.runs[i]!.mibPerSecond));
      }
      results.push(...sized);
    }
  } finally {
    await Promise.all(servers.map((s) => stop(s.child)));
  }
  return results;
}

/** One capacity measurement on a fresh server process. */
async function capacityRound(target: Target): Promise<CapacityResult["runs"][number]> {
  const s = await start(target);
  try {
    // Warm-up: the first connections load and compile the upgrade path, which is not per-connection cost.
    const warm = await hold(s.port, 100);
    await stop(warm);
    await sleep(500);
    const before = rssBytes(s.child.pid);
    const started = performance.now();
    const client = await hold(s.port, IDLE);
    const openSeconds = (performance.now() - started) / 1000;
    await sleep(2000); // let the last handshakes' buffers drain and settle
    const after = rssBytes(s.child.pid);
    await stop(client);
    return {
      rssBeforeMiB: before / 2 ** 20,
      rssAfterMiB: after / 2 ** 20,
      bytesPerConnection: (after - before) / IDLE,
      openSeconds,
    };
  } finally {
    await stop(s.child);
  }
}

async function capacityBench(skipped: Record<string, string>): Promise<CapacityResult[]> {
  const runs = new Map<string, CapacityResult["runs"]>();
  for (let round = 0; round < CAPACITY_ROUNDS; round++) {
    for (const target of TARGETS) {
      if (skipped[target.name] !== undefined || target.echoOnly) continue;
      try {
        const r = await capacityRound(target);
        if (!runs.has(target.name)) runs.set(target.name, []);
        runs.get(target.name)!.push(r);
        console.error(
          `WebSocket capacity / ${target.name} / round ${round + 1}: ${IDLE} open in ${r.openSeconds.toFixed(1)} s, ` +
            `RSS ${r.rssBeforeMiB.toFixed(1)} → ${r.rssAfterMiB.toFixed(1)} MiB, ${r.bytesPerConnection.toFixed(0)} B/connection`,
        );
      } catch (e) {
        skipped[target.name] = (e as Error).message.split("\n")[0]!;
        console.error(`${target.name}: capacity run failed, dropping it (${skipped[target.name]})`);
      }
    }
  }
  const results = [...runs]
    .filter(([server]) => skipped[server] === undefined)
    .map(([server, rs]) => ({
      server,
      connections: IDLE,
      bytesPerConnection: median(rs.map((r) => r.bytesPerConnection)),
      vsWs: null as number | null,
      runs: rs,
    }));
  const base = results.find((r) => r.server === BASELINE);
  for (const r of results) {
    r.vsWs = base === undefined ? null : r.bytesPerConnection / base.bytesPerConnection;
  }
  return results;
}

/** Runs the echo and capacity benchmarks and returns their figures and a Markdown table. */
export async function runWebSocketBench(): Promise<WebSocketReport> {
  const skipped: Record<string, string> = {};
  const echo: EchoResult[] = [];
  if (PARTS.includes("echo")) for (const n of IN_FLIGHT) echo.push(...(await echoBench(skipped, n)));
  const large = PARTS.includes("large") ? await largeBench(skipped) : [];
  const capacity = PARTS.includes("capacity") ? await capacityBench(skipped) : [];
  const times = (x: number | null) => (x === null ? "" : `${x.toFixed(2)}×`);
  const header = ["scenario", "server", "result (median)", `vs ${BASELINE}`, "server CPU per message"];
  const rows = [
    ...echo.map((r) => [
      `echo, ${CONNECTIONS} connections × ${r.inFlight} in flight, ${MESSAGE_SIZE} B text`,
      r.server,
      `${r.messagesPerSecond.toFixed(0)} messages/s`,
      times(r.vsWs),
      `${r.cpuMicrosPerMessage.toFixed(1)} µs`,
    ]),
    ...large.map((r) => [
      `echo, 1 connection, ${r.size / 2 ** 20} MiB binary, one at a time`,
      r.server,
      `${r.mibPerSecond.toFixed(0)} MiB/s`,
      times(r.vsWs),
      `${(r.cpuMicrosPerMessage / 1000).toFixed(1)} ms`,
    ]),
    ...capacity.map((r) => [
      `${IDLE.toLocaleString("en")} idle connections`,
      r.server,
      `${(r.bytesPerConnection / 1024).toFixed(1)} KiB/connection`,
      times(r.vsWs),
      "",
    ]),
  ];
  const table = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
  const setup =
    `echo: ${ROUNDS} interleaved rounds of ${DURATION} s per in-flight depth (${IN_FLIGHT.join(", ")}), ratio the median of per-round ratios; ` +
    `large messages: ${ROUNDS} interleaved rounds of ${LARGE_SECONDS} s per size, MiB/s of payload echoed; ` +
    `capacity: ${CAPACITY_ROUNDS} rounds, a fresh server each, RSS after minus before${hasTaskset ? "; servers and load client pinned to separate CPUs" : ""}`;
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, Node ${process.version}`;
  return {
    date: new Date().toISOString().slice(0, 10),
    machine,
    setup,
    echo,
    large,
    capacity,
    skipped,
    table,
  };
}
