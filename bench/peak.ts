/**
 * Peak resident memory under load, measured so that a comparison means
 * something: a fresh server process per round, the same load for every
 * server (wrk, 100 connections: keep-alive, then 16 pipelined, then, when
 * asked, POST 4 KiB; a rest between runs), the process's VmHWM at the end,
 * and medians of rounds run interleaved. Used by `npm run bench` (issue 15's
 * peak-RSS target) and `npm run bench:memory` (every Node given).
 *
 * Why not the VmHWM of a server that served a whole benchmark: V8 grows its
 * young generation once enough bytes have survived scavenges and shrinks it
 * while the process idles, so the peak of one long-lived process depends on
 * how its rounds and rests fell; the same server's peak moved by 5 MiB
 * between such runs (docs/performance.md, "Peak memory").
 */

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { pinned, spawnPinned, stopServer, waitListening } from "./servers.ts";
import { median } from "./stats.ts";

/** The load each process gets. */
export interface PeakLoad {
  /** Seconds per measured wrk run. */
  seconds: number;
  /** Measured runs per kind of request (after a 1 s warm-up of that kind). */
  runs: number;
  /** Milliseconds of rest after each run (V8 may shrink its young generation then, as between benchmark rounds). */
  restMs: number;
  /** Also POST 4 KiB bodies (bench/post.lua). */
  post: boolean;
  connections: number;
}

export const DEFAULT_PEAK_LOAD: PeakLoad = {
  seconds: 3,
  runs: 2,
  restMs: 2000,
  post: false,
  connections: 100,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function wrk(url: string, seconds: number, connections: number, script?: string): void {
  const args = ["wrk", "-t1", `-c${connections}`, `-d${seconds}s`, ...(script ? ["-s", script] : []), url];
  const [cmd, ...rest] = pinned(1, args);
  execFileSync(cmd!, rest, { encoding: "utf8" });
}

/** VmHWM of `pid` in bytes. */
function highWater(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024;
}

/** Starts `command` (argv, run from the repository root), applies `load`, returns its peak RSS in bytes. */
export async function peakOnce(command: string[], load: PeakLoad): Promise<number> {
  const child = spawnPinned(0, command);
  try {
    const { url } = await waitListening(child);
    const kinds: (string | undefined)[] = [
      undefined,
      "bench/pipeline.lua",
      ...(load.post ? ["bench/post.lua"] : []),
    ];
    for (const script of kinds) {
      wrk(url, 1, load.connections, script);
      for (let run = 0; run < load.runs; run++) {
        wrk(url, load.seconds, load.connections, script);
        await sleep(load.restMs);
      }
    }
    return highWater(child.pid!);
  } finally {
    await stopServer(child);
  }
}

/** Medians of `rounds` interleaved rounds (one fresh process per server per round), by server name, in bytes. */
export async function peakRounds(
  servers: { name: string; command: string[] }[],
  load: PeakLoad,
  rounds: number,
  onSample?: (name: string, round: number, bytes: number) => void,
): Promise<Map<string, number>> {
  const samples = new Map<string, number[]>(servers.map((s) => [s.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const s of servers) {
      const bytes = await peakOnce(s.command, load);
      samples.get(s.name)!.push(bytes);
      onSample?.(s.name, round, bytes);
    }
  }
  return new Map([...samples].map(([name, values]) => [name, median(values)]));
}
