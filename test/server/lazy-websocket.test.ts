/**
 * The WebSocket machinery is loaded at the first upgrade request, not at
 * startup (src/server/websocket-loader.ts): a server whose clients never ask
 * for a WebSocket never compiles it. The upgrade request that triggers the
 * load is held until it is in, with whatever bytes came behind it (here the
 * first frames, in the same write as the handshake), and nothing is lost.
 */

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { type CliProcess, startCli } from "../helpers.ts";
import { frame, handshake, RawWebSocket } from "../websocket/raw-client.ts";

const APP = "test/fixtures/apps/ws_lazy.mjs";
let cli: CliProcess | null = null;

afterEach(async () => {
  cli?.child.kill("SIGTERM");
  await cli?.exited;
  cli = null;
});

interface Report {
  stack: boolean;
  zlibAtImport: boolean;
  zlib: boolean;
}

async function report(port: number): Promise<Report> {
  const res = await fetch(`http://127.0.0.1:${port}/loaded`);
  assert.equal(res.status, 200);
  return (await res.json()) as Report;
}

/** Opens a raw WebSocket whose handshake carries two text frames in the same write. */
async function openWithFrames(port: number, id: number): Promise<RawWebSocket> {
  const bytes = Buffer.concat([Buffer.from(handshake()), frame(1, `one ${id}`), frame(1, `two ${id}`)]);
  const ws = await RawWebSocket.open(port, bytes);
  assert.equal(ws.status, 101, ws.responseHead);
  return ws;
}

test("plain HTTP never loads the WebSocket machinery (nor node:zlib)", async () => {
  cli = await startCli(["--port", "0", "--no-access-log", APP]);
  for (let i = 0; i < 3; i++) {
    const r = await report(cli.port);
    assert.equal(r.stack, false);
    // Where nothing else loaded zlib before the app (Node 24's undici does), nothing loads it now.
    if (!r.zlibAtImport) assert.equal(r.zlib, false);
  }
});

test("the first upgrade requests, on several connections at once, are held until the machinery is in", async () => {
  cli = await startCli(["--port", "0", "--no-access-log", APP]);
  const port = cli.port;
  assert.equal((await report(port)).stack, false);
  const clients = await Promise.all([1, 2, 3, 4].map((id) => openWithFrames(port, id)));
  for (const [i, ws] of clients.entries()) {
    for (const word of ["one", "two"]) {
      const f = await ws.next();
      assert.ok(f !== null, "the connection closed before the echo");
      assert.equal(f.opcode, 1);
      assert.equal(f.payload.toString("utf8"), `echo: ${word} ${i + 1}`);
    }
    ws.destroy();
  }
  assert.equal((await report(port)).stack, true);
  // Loaded now: the next upgrade is answered at once, frames behind it included.
  const later = await openWithFrames(port, 5);
  assert.equal((await later.next())?.payload.toString("utf8"), "echo: one 5");
  later.destroy();
});
