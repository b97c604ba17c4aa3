/**
 * Graceful close() over real sockets: idle connections go at once, in-flight
 * requests finish with `Connection: close`, new connections are refused, and
 * a request that never finishes is cut off after the grace period.
 */

import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import type { Exchange } from "../../src/server/exchange.ts";
import { startServer } from "../helpers.ts";
import { assertClosed, Client, echoApp, echoOf, get, header, show, sleep, startRaw } from "./client.ts";

/** Resolves true when `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A connection attempt: "refused", or "closed" if accepted and dropped without a byte, or "answered". */
function tryConnect(port: number): Promise<"refused" | "closed" | "answered"> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let got = false;
    socket.on("connect", () => socket.write(get("/late")));
    socket.on("data", () => {
      got = true;
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED") resolve("refused");
    });
    socket.on("close", () => resolve(got ? "answered" : "closed"));
  });
}

test("idle keep-alive connections are closed at once and close() resolves", async (t) => {
  const s = await startServer(echoApp);
  t.after(() => s.server.close(100));
  const used = await Client.open(s.port);
  const silent = await Client.open(s.port); // connected, never sent a byte
  t.after(() => {
    used.destroy();
    silent.destroy();
  });
  used.send(get("/before"));
  assert.equal((await used.read()).status, 200);
  await sleep(20);
  assert.equal(s.server.connectionCount, 2);

  const start = Date.now();
  const closing = s.server.close();
  assert.equal(await used.closedWithin(500), true, "idle connection closed");
  assert.equal(await silent.closedWithin(500), true, "never-used connection closed");
  assert.ok(await settlesWithin(closing, 1000), "close() resolved");
  assert.ok(Date.now() - start < 500, `took ${Date.now() - start} ms`);
  assert.equal(used.text(), "");
  assert.equal(silent.text(), "");
  assert.equal(s.server.connectionCount, 0);
});

test("an in-flight request completes with Connection: close; new connections are refused meanwhile", async (t) => {
  let started!: () => void;
  const handlerCalled = new Promise<void>((resolve) => {
    started = resolve;
  });
  const s = await startRaw((ex) => {
    started();
    setTimeout(() => ex.respond({ status: 200, headers: [] }, Buffer.from("finished")), 300);
  });
  t.after(() => s.server.close(100));
  const c = await Client.open(s.port);
  t.after(() => c.destroy());
  c.send(get("/slow") + get("/pipelined"));
  await handlerCalled;

  const start = Date.now();
  const closing = s.server.close(5000);
  assert.equal(s.server.shuttingDown, true);
  assert.equal(await tryConnect(s.port), "refused", "the listener is closed");

  const res = await c.read();
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), "finished");
  assert.equal(header(res, "connection"), "close", show(res));
  await assertClosed(c);
  assert.ok(await settlesWithin(closing, 2000), "close() resolved");
  const ms = Date.now() - start;
  assert.ok(ms >= 200 && ms < 2000, `close() took ${ms} ms`);
});

test("a streamed in-flight response also ends with Connection: close", async (t) => {
  let exchange!: (ex: Exchange) => void;
  const got = new Promise<Exchange>((resolve) => {
    exchange = resolve;
  });
  const s = await startRaw((ex) => exchange(ex));
  t.after(() => s.server.close(100));
  const c = await Client.open(s.port);
  t.after(() => c.destroy());
  c.send(get("/stream"));
  const ex = await got;
  const closing = s.server.close(5000);
  ex.respond({ status: 200, headers: [] });
  ex.write(Buffer.from("a"));
  await sleep(50);
  ex.write(Buffer.from("b"));
  ex.end();
  const res = await c.read();
  assert.equal(res.body.toString(), "ab");
  assert.equal(header(res, "connection"), "close");
  await assertClosed(c);
  assert.ok(await settlesWithin(closing, 2000));
});

test("close(500) forces a connection whose handler never responds closed after about 500 ms", async (t) => {
  let started!: () => void;
  const handlerCalled = new Promise<void>((resolve) => {
    started = resolve;
  });
  const s = await startRaw(() => started());
  t.after(() => s.server.close(100));
  const c = await Client.open(s.port);
  t.after(() => c.destroy());
  c.send(get("/never"));
  await handlerCalled;

  const start = Date.now();
  const closing = s.server.close(500);
  assert.equal(await c.closedWithin(3000), true);
  const ms = Date.now() - start;
  assert.ok(ms >= 450 && ms < 1500, `forced closed after ${ms} ms`);
  assert.equal(c.text(), "");
  assert.ok(await settlesWithin(closing, 1000), "close() resolved");
  assert.equal(s.server.connectionCount, 0);
});

test("close() called twice returns the same promise; a WSGI server with no connections closes at once", async () => {
  const s = await startServer(echoApp);
  const c = await Client.open(s.port);
  c.send(get("/x"));
  assert.equal(echoOf(await c.read()).path, "/x");
  c.destroy();
  await sleep(20);
  const first = s.server.close();
  assert.equal(s.server.close(), first);
  assert.ok(await settlesWithin(first, 500));
});
