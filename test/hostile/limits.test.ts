/**
 * Resource limits over real sockets: limitConcurrency (503 past it, the app
 * never called), and the memory an idle connection costs, HTTP keep-alive and
 * WebSocket, measured in a separate server process (figures in
 * docs/reliability.md; the bounds here are loose enough for any machine but
 * catch a connection that suddenly holds a buffer it should not).
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import { startServer } from "../helpers.ts";
import { Client, header, sleep } from "../server/client.ts";

test("limitConcurrency: past the limit a request gets 503 with Retry-After and the close; the app is not called", async () => {
  let calls = 0;
  const app = (_e: Environ, start: StartResponse) => {
    calls++;
    start("200 OK", [["Content-Type", "text/plain"]]);
    return ["ok"];
  };
  const { server, port, access } = await startServer(app, { limitConcurrency: 3 });
  const held: Client[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const c = await Client.open(port);
      c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
      assert.equal((await c.read()).status, 200);
      held.push(c); // idle keep-alive: still counts
    }
    const extra = await Client.open(port);
    extra.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    const res = await extra.read();
    assert.equal(res.status, 503);
    assert.equal(header(res, "Retry-After"), "1");
    assert.equal(header(res, "Connection"), "close");
    assert.ok(await extra.closedWithin(3000), "the over-limit connection is closed");
    assert.equal(calls, 3, "the app is not called for the refused request");
    assert.match(access.text, /"POST \/x HTTP\/1\.1" 503 /);
    // One slot frees up: the next connection is served again.
    held.pop()!.destroy();
    await sleep(100);
    const next = await Client.open(port);
    next.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal((await next.read()).status, 200);
    next.destroy();
  } finally {
    for (const c of held) c.destroy();
    await server.close(1000);
  }
  assert.equal(server.connectionCount, 0);
});

// ---- memory per idle connection ----------------------------------------------------

const N = 300;

interface Memory {
  heap: number;
  external: number;
  rss: number;
}

async function measure(port: number): Promise<Memory> {
  const res = await fetch(`http://127.0.0.1:${port}/mem`, { headers: { connection: "close" } });
  return (await res.json()) as Memory;
}

function open(port: number, bytes: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => {
      s.write(bytes);
    });
    s.once("error", reject);
    // A connection closed unanswered fails the test instead of hanging it.
    s.once("close", () => reject(new Error("connection closed before any response")));
    // Idle once the whole response (or 101) is in.
    s.once("data", () => resolve(s));
  });
}

const WS_HANDSHAKE =
  "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** Starts the memory server (`mode` "asgi" or "fetch") and measures `N` idle connections of each kind. */
async function idleCosts(mode: string): Promise<{ http: Memory; ws: Memory; kib: (m: Memory) => string }> {
  const script = fileURLToPath(new URL("./memory-server.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, mode], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const sockets: Socket[] = [];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once("exit", (code) => reject(new Error(`memory server exited with ${code}`)));
    });
    // Warm up every code path once, a WebSocket's too: its machinery loads at
    // the first upgrade (src/server/websocket-loader.ts), and that code is no
    // connection's memory.
    (await open(port, WS_HANDSHAKE)).destroy();
    await measure(port);
    const per = async (bytes: string): Promise<Memory> => {
      const before = await measure(port);
      for (let i = 0; i < N; i += 50) {
        sockets.push(...(await Promise.all(Array.from({ length: 50 }, () => open(port, bytes)))));
      }
      await sleep(200);
      const after = await measure(port);
      return {
        heap: (after.heap - before.heap) / N,
        external: (after.external - before.external) / N,
        rss: (after.rss - before.rss) / N,
      };
    };
    const http = await per("GET /idle HTTP/1.1\r\nHost: a\r\n\r\n");
    const ws = await per(WS_HANDSHAKE);
    const kib = (m: Memory) =>
      `heap ${(m.heap / 1024).toFixed(1)} KiB, external ${(m.external / 1024).toFixed(1)} KiB, RSS ${(m.rss / 1024).toFixed(1)} KiB`;
    return { http, ws, kib };
  } finally {
    for (const s of sockets) s.destroy();
    child.kill();
  }
}

test(`memory per idle connection, ${N} of each, in a separate server process`, async (t) => {
  const { http, ws, kib } = await idleCosts("asgi");
  t.diagnostic(`idle HTTP keep-alive connection: ${kib(http)}`);
  t.diagnostic(`idle WebSocket (ASGI-style app): ${kib(ws)}`);
  // Heap plus buffers; RSS includes the kernel-side socket cost and allocator slack.
  assert.ok(http.heap + http.external < 16 * 1024, `idle HTTP connection holds ${kib(http)}`);
  assert.ok(ws.heap + ws.external < 32 * 1024, `idle WebSocket holds ${kib(ws)}`);
});

test(`memory per idle WebSocket of a Fetch app, ${N} of them`, async (t) => {
  const { ws, kib } = await idleCosts("fetch");
  t.diagnostic(`idle WebSocket (Fetch app, upgradeWebSocket): ${kib(ws)}`);
  // About 2.8 KiB; 5.5 KiB before the socket dropped Node's EventTarget
  // internals and the session its per-connection closures (README, Benchmarks).
  assert.ok(ws.heap + ws.external < 4.5 * 1024, `idle WebSocket holds ${kib(ws)}`);
});
