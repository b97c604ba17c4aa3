/**
 * Healthy-request latency with and without an attack of slow and greedy
 * clients (`npm run bench:slow`). The server runs in a child process (this
 * file with the argument "serve") with the default timeouts except those set
 * below; this process first measures keep-alive GET latency alone, then opens
 * SLOW_ATTACKERS connections (slowloris heads, stalled bodies, clients that
 * never read an endless response, idle keep-alive) and measures again while
 * they are connected. Prints p50/p99 for both, failures, and the server's
 * connection count during the attack.
 *
 * Settings: SLOW_ATTACKERS (default 1200), SLOW_SECONDS per phase (default 10).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";

const ATTACKERS = Number(process.env.SLOW_ATTACKERS ?? 1200);
const SECONDS = Number(process.env.SLOW_SECONDS ?? 10);

if (process.argv[2] === "serve") {
  const { serve } = await import("../src/serve.ts");
  const PIECE = "x".repeat(64 * 1024);
  const app = (environ: Record<string, unknown>, start: (s: string, h: [string, string][]) => void) => {
    start("200 OK", [["Content-Type", "text/plain"]]);
    if (environ.PATH_INFO === "/endless") {
      return (function* () {
        for (;;) yield PIECE;
      })();
    }
    return ["Hello, World!"];
  };
  // Timeouts short enough that a 10 s phase sees attackers cut and replaced.
  const server = await serve(app, {
    port: 0,
    accessLog: false,
    headerTimeout: 5000,
    bodyTimeout: 5000,
    sendTimeout: 5000,
    keepAliveTimeout: 5000,
  });
  process.stdout.write(`${server.address.port}\n`);
  setInterval(() => process.stdout.write(`connections ${server.connectionCount}\n`), 1000).unref();
} else {
  await main();
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "serve"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let peak = 0;
  const port = await new Promise<number>((resolve) => {
    let first = true;
    child.stdout!.on("data", (d: Buffer) => {
      for (const line of d.toString().trim().split("\n")) {
        if (first) {
          first = false;
          resolve(Number(line));
        } else if (line.startsWith("connections ")) peak = Math.max(peak, Number(line.slice(12)));
      }
    });
  });
  try {
    const quiet = await measure(port, SECONDS);
    report("without attack", quiet);
    const stop = await startAttack(port, ATTACKERS);
    peak = 0;
    const attacked = await measure(port, SECONDS);
    report(`with ${ATTACKERS} attackers`, attacked);
    console.log(`server connections during the attack: peak ${peak} (attackers are cut and reconnect)`);
    stop();
  } finally {
    (child as ChildProcess).kill();
  }
}

/** Four keep-alive connections issuing GETs back to back for `seconds`; latencies in ms. */
async function measure(port: number, seconds: number): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      let socket: Socket | null = null;
      while (Date.now() < until) {
        try {
          socket ??= await open(port);
          const t0 = performance.now();
          await request(socket);
          latencies.push(performance.now() - t0);
        } catch {
          failed++;
          socket?.destroy();
          socket = null;
        }
      }
      socket?.destroy();
    }),
  );
  return { latencies, failed };
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

/** One GET on a keep-alive socket; resolves when the 13-byte body is in. */
function request(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (d: Buffer) => {
      text += d.toString("latin1");
      if (text.endsWith("Hello, World!")) {
        cleanup();
        if (text.startsWith("HTTP/1.1 200 ")) resolve();
        else reject(new Error(text.slice(0, 40)));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error("closed"));
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("close", onEnd);
    };
    socket.on("data", onData);
    socket.once("close", onEnd);
    socket.write("GET / HTTP/1.1\r\nHost: bench\r\n\r\n");
  });
}

/** Opens `n` attackers of four kinds; each one that the server cuts is replaced. Returns a stop function. */
async function startAttack(port: number, n: number): Promise<() => void> {
  let stopped = false;
  const sockets = new Set<Socket>();
  const kinds = [
    (s: Socket) => {
      const head = `GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ${"s".repeat(100)}\r\n\r\n`;
      let i = 0;
      const timer = setInterval(() => (i < head.length ? s.write(head[i++]!) : clearInterval(timer)), 1000);
      s.once("close", () => clearInterval(timer));
    },
    (s: Socket) => s.write("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nabc"),
    (s: Socket) => {
      s.pause();
      s.write("GET /endless HTTP/1.1\r\nHost: a\r\n\r\n");
    },
    (s: Socket) => s.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
  ];
  const launch = (i: number) => {
    if (stopped) return;
    const s = connect(port, "127.0.0.1", () => kinds[i % kinds.length]!(s));
    sockets.add(s);
    s.on("error", () => {});
    s.once("close", () => {
      sockets.delete(s);
      setTimeout(() => launch(i), 100);
    });
  };
  for (let i = 0; i < n; i++) {
    launch(i);
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1000));
  return () => {
    stopped = true;
    for (const s of sockets) s.destroy();
  };
}

function report(label: string, { latencies, failed }: { latencies: number[]; failed: number }): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  console.log(
    `${label}: ${sorted.length} requests, ${failed} failed, p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms`,
  );
}
