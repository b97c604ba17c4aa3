/**
 * `npm run bench:memory`: how much memory tsgi holds, against Node's own
 * `http` module, for hello worlds written in plain JavaScript (.mjs, so no
 * TypeScript loader is involved), on every Node binary given.
 *
 * 1. Resident set size (/proc/PID/status: VmRSS, and its anonymous and
 *    file-backed parts) 2 s after the "Listening on" line, then after 1,000
 *    requests (and 2 s of rest). Servers: tsgi Fetch, tsgi WSGI-style, tsgi
 *    node:http-style (`--interface node`), and `node server.mjs` with
 *    `http.createServer` (bench/peers/node_http.mjs). tsgi runs with
 *    `--no-access-log` (node:http writes no log either). Medians of
 *    MEMORY_ROUNDS rounds, interleaved.
 * 2. Peak RSS under the hello load (bench/peak.ts): a fresh process per
 *    round gets wrk with 100 connections, keep-alive then 16 pipelined (a
 *    1 s warm-up and two 3 s runs of each, 2 s of rest after each run); its
 *    VmHWM at the end; medians of MEMORY_PEAK_ROUNDS interleaved rounds, for
 *    node:http, tsgi Fetch and tsgi node:http-style.
 * 3. Leak check: a Fetch app under wrk for MEMORY_LEAK_SECONDS, twice, with
 *    the heap measured after full garbage collections (bench/memory-probe.cjs,
 *    preloaded with --expose-gc) after a warm-up and after each run. What a
 *    request leaves behind shows as heap growth per request; a heap that
 *    returns to its warm-up size keeps nothing per request.
 *    MEMORY_SNAPSHOT_DIR=dir also writes a heap snapshot at each measurement.
 *
 * Settings: MEMORY_NODES (node binaries, comma-separated; default the node
 * running this and $NODE24 if set), MEMORY_ROUNDS (default 3),
 * MEMORY_LEAK_SECONDS (default 20; 0 skips the leak check), MEMORY_PEAK_ROUNDS
 * (default 5; 0 skips the peak table), MEMORY_IDLE_MS
 * (default 2000). Needs Linux (/proc) and, for the leak check, wrk.
 * Example: `NODE24=/path/to/node24 npm run bench:memory`.
 */

import { type ChildProcess, execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULT_PEAK_LOAD, peakRounds } from "./peak.ts";
import { pinned, spawnPinned, stopServer, waitListening } from "./servers.ts";
import { median } from "./stats.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ROUNDS = Number(process.env.MEMORY_ROUNDS ?? 3);
const LEAK_SECONDS = Number(process.env.MEMORY_LEAK_SECONDS ?? 20);
const IDLE_MS = Number(process.env.MEMORY_IDLE_MS ?? 2000);
const PEAK_ROUNDS = Number(process.env.MEMORY_PEAK_ROUNDS ?? 5);
const PEAK_TARGETS = ["node:http", "tsgi Fetch", "tsgi node-style"];
const REQUESTS = 1000;
const CLI = "dist/cli/main.js";
const TSGI = [CLI, "--port", "0", "--no-access-log"];

const NODES = (process.env.MEMORY_NODES ?? [process.execPath, process.env.NODE24].filter(Boolean).join(","))
  .split(",")
  .filter((n) => n !== "");

interface Target {
  name: string;
  args: string[];
}

const TARGETS: Target[] = [
  { name: "node:http", args: ["bench/peers/node_http.mjs", "0"] },
  { name: "tsgi Fetch", args: [...TSGI, "bench/apps/memory/hello_fetch.mjs"] },
  { name: "tsgi WSGI", args: [...TSGI, "bench/apps/memory/hello_wsgi.mjs"] },
  { name: "tsgi node-style", args: [...TSGI, "--interface", "node", "bench/apps/memory/hello_node.mjs"] },
  // TypeScript: Node's own type stripping where it has it, else tsx (and its esbuild child process).
  { name: "tsgi Fetch .ts", args: [...TSGI, "bench/apps/hello_fetch.ts"] },
];

const LEAK_TARGETS: Target[] = [
  { name: "tsgi Fetch hello", args: [...TSGI, "bench/apps/memory/hello_fetch.mjs"] },
  { name: "tsgi Fetch headers", args: [...TSGI, "bench/apps/memory/headers_fetch.mjs"] },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = (bytes: number) => (bytes / 1048576).toFixed(1);

interface Rss {
  rss: number;
  anon: number;
  file: number;
  /** VmRSS of the child processes (tsx's esbuild service). */
  children: number;
}

function statusField(pid: number, name: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status)?.[1]) * 1024;
}

/** VmRSS and its anonymous and file-backed parts of `pid`, and its children's VmRSS, in bytes. */
function readRss(pid: number): Rss {
  // Children of every thread: tsx's hooks thread may be the one that started esbuild.
  const kids = readdirSync(`/proc/${pid}/task`)
    .map((task) => readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim())
    .filter((list) => list !== "")
    .flatMap((list) => list.split(" "));
  const children = kids.reduce((sum, kid) => sum + statusField(Number(kid), "VmRSS"), 0);
  return {
    rss: statusField(pid, "VmRSS"),
    anon: statusField(pid, "RssAnon"),
    file: statusField(pid, "RssFile"),
    children,
  };
}

function nodeVersion(node: string): string {
  return execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
}

/** `count` GET requests over keep-alive connections, 8 at a time, every body read. */
async function requests(url: string, count: number): Promise<void> {
  let left = count;
  const worker = async () => {
    while (left-- > 0) {
      const res = await fetch(url, { headers: { "user-agent": "bench-memory" } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`status ${res.status} from ${url}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

interface Sample {
  idle: Rss;
  loaded: Rss;
}

async function sample(node: string, target: Target): Promise<Sample> {
  const child = spawnPinned(0, [node, ...target.args]);
  try {
    const { url } = await waitListening(child);
    await sleep(IDLE_MS);
    const idle = readRss(child.pid!);
    await requests(url, REQUESTS);
    await sleep(IDLE_MS);
    return { idle, loaded: readRss(child.pid!) };
  } finally {
    await stopServer(child);
  }
}

async function rssTable(): Promise<void> {
  console.log(`\n## RSS: ${IDLE_MS / 1000} s idle after "Listening on", then after ${REQUESTS} requests`);
  console.log(`(MiB, medians of ${ROUNDS} rounds; anon = RssAnon, file = RssFile)\n`);
  console.log(
    "| server | node | idle RSS | idle anon / file | vs node:http | child processes | after 1k RSS | vs node:http |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const node of NODES) {
    const version = nodeVersion(node);
    const samples = new Map<string, Sample[]>(TARGETS.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++)
      for (const target of TARGETS) samples.get(target.name)!.push(await sample(node, target));
    const med = (name: string, pick: (s: Sample) => number) => median(samples.get(name)!.map(pick));
    const baseIdle = med("node:http", (s) => s.idle.rss);
    const baseLoaded = med("node:http", (s) => s.loaded.rss);
    for (const target of TARGETS) {
      const idle = med(target.name, (s) => s.idle.rss);
      const loaded = med(target.name, (s) => s.loaded.rss);
      const anon = med(target.name, (s) => s.idle.anon);
      const file = med(target.name, (s) => s.idle.file);
      const children = med(target.name, (s) => s.idle.children);
      const delta = (x: number, base: number) =>
        target.name === "node:http" ? "" : `${x >= base ? "+" : ""}${MiB(x - base)}`;
      console.log(
        `| ${target.name} | ${version} | ${MiB(idle)} | ${MiB(anon)} / ${MiB(file)} | ${delta(idle, baseIdle)} | ${children === 0 ? "" : MiB(children)} | ${MiB(loaded)} | ${delta(loaded, baseLoaded)} |`,
      );
    }
  }
}

async function peakTable(): Promise<void> {
  if (PEAK_ROUNDS <= 0) return;
  if (spawnSync("wrk", ["--version"]).error !== undefined) {
    console.log("\n(peak table skipped: wrk not found)");
    return;
  }
  const load = DEFAULT_PEAK_LOAD;
  console.log(
    `\n## Peak RSS (VmHWM) under the hello load: a fresh process per round, wrk -c${load.connections}, keep-alive then 16 pipelined (1 s warm-up and ${load.runs} runs of ${load.seconds} s each, ${load.restMs / 1000} s rest after each run)\n`,
  );
  console.log(`(MiB, medians of ${PEAK_ROUNDS} interleaved rounds)\n`);
  console.log("| server | node | peak RSS | vs node:http |");
  console.log("|---|---|---|---|");
  for (const node of NODES) {
    const version = nodeVersion(node);
    const servers = TARGETS.filter((t) => PEAK_TARGETS.includes(t.name)).map((t) => ({
      name: t.name,
      command: [node, ...t.args],
    }));
    const peaks = await peakRounds(servers, load, PEAK_ROUNDS, (name, round, bytes) =>
      console.error(`peak / ${name} / ${version} / round ${round + 1}: ${MiB(bytes)} MiB`),
    );
    const base = peaks.get("node:http")!;
    for (const [name, peak] of peaks) {
      const vs =
        name === "node:http"
          ? ""
          : `${peak >= base ? "+" : ""}${MiB(peak - base)} (${(peak / base).toFixed(3)}×)`;
      console.log(`| ${name} | ${version} | ${MiB(peak)} | ${vs} |`);
    }
  }
}

interface Probe {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

/** Asks the probe in `child` for the heap after full collections. */
function probe(child: ChildProcess): Promise<Probe> {
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error("no MEMPROBE line within 60 s")), 60_000);
    const onData = (d: Buffer) => {
      err += d.toString();
      const m = /MEMPROBE (\{.*\})\n/.exec(err);
      if (m === null) return;
      clearTimeout(timer);
      child.stderr!.off("data", onData);
      resolve(JSON.parse(m[1]!) as Probe);
    };
    child.stderr!.on("data", onData);
    child.kill("SIGUSR2");
  });
}

/** wrk against `url` for `seconds`; returns the number of requests it completed. */
function wrk(url: string, seconds: number): number {
  const [cmd, ...args] = pinned(1, ["wrk", "-t1", "-c64", `-d${seconds}s`, url]);
  const out = execFileSync(cmd!, args, { encoding: "utf8" });
  const m = /(\d+) requests in/.exec(out);
  if (m === null) throw new Error(`cannot read wrk's output:\n${out}`);
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  return Number(m[1]);
}

async function leakCheck(): Promise<boolean> {
  if (LEAK_SECONDS <= 0) return true;
  if (spawnSync("wrk", ["--version"]).error !== undefined) {
    console.log("\n(leak check skipped: wrk not found)");
    return true;
  }
  console.log(
    `\n## Leak check: heap after full GC, warm-up 3 s, then wrk -c64 for ${LEAK_SECONDS} s twice\n`,
  );
  console.log(
    "| server | node | requests | heap after warm-up | after run 1 | after run 2 | growth per request (run 2) |",
  );
  console.log("|---|---|---|---|---|---|---|");
  let ok = true;
  for (const node of NODES) {
    const version = nodeVersion(node);
    for (const target of LEAK_TARGETS) {
      const child = spawnPinned(0, [node, "--expose-gc", "-r", "./bench/memory-probe.cjs", ...target.args]);
      try {
        const { url } = await waitListening(child);
        wrk(url, 3);
        const m0 = await probe(child);
        const r1 = wrk(url, LEAK_SECONDS);
        const m1 = await probe(child);
        const r2 = wrk(url, LEAK_SECONDS);
        const m2 = await probe(child);
        const perRequest = (m2.heapUsed - m1.heapUsed) / r2;
        // A leak of even a few bytes per request shows over hundreds of thousands of them;
        // what is left is the noise of caches that fill once (bounded by design).
        const grew = m2.heapUsed - m0.heapUsed > 1048576;
        if (grew) ok = false;
        console.log(
          `| ${target.name} | ${version} | ${r1 + r2} | ${MiB(m0.heapUsed)} MiB | ${MiB(m1.heapUsed)} MiB | ${MiB(m2.heapUsed)} MiB | ${perRequest.toFixed(3)} B${grew ? " (GROWS)" : ""} |`,
        );
      } finally {
        await stopServer(child);
      }
    }
  }
  return ok;
}

process.chdir(ROOT);
await rssTable();
await peakTable();
const ok = await leakCheck();
if (!ok) {
  console.log("\nThe heap grew by more than 1 MiB across the runs: something per request survives.");
  process.exitCode = 1;
}
