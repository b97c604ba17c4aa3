/**
 * Flow control over real sockets: a client that does not read its response
 * stops the app's iteration (the server never buffers a whole large body),
 * the iteration resumes when the client reads, and the body arrives intact.
 */

import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import { startServer } from "../helpers.ts";
import { Client, get, header, parseResponse, sleep, startRaw } from "./client.ts";

const CHUNK = 64 * 1024;
const CHUNKS = 800; // 50 MiB
const TOTAL = CHUNK * CHUNKS;

/** Chunk `i` is CHUNK bytes of value i % 251, so a lost, repeated or reordered chunk shows. */
const chunk = (i: number) => Buffer.alloc(CHUNK, i % 251);

let produced = 0;
function app(environ: Environ, startResponse: StartResponse): Iterable<Uint8Array> {
  produced = 0;
  const headers: [string, string][] = [["Content-Type", "application/octet-stream"]];
  if (environ.PATH_INFO === "/sized") headers.push(["Content-Length", String(TOTAL)]);
  startResponse("200 OK", headers);
  return (function* () {
    for (let i = 0; i < CHUNKS; i++) {
      produced++;
      yield chunk(i);
    }
  })();
}

let port: number;
let closeServer: () => Promise<void>;

before(async () => {
  const s = await startServer(app, { sendTimeout: 10_000 });
  port = s.port;
  closeServer = () => s.server.close(1000);
});
after(() => closeServer());

function rawConnect(p: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(p, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Waits until `produced` has not changed for `quietMs`. */
async function settle(quietMs = 300): Promise<number> {
  let last = -1;
  for (;;) {
    if (produced === last) return produced;
    last = produced;
    await sleep(quietMs);
  }
}

function checkBody(body: Buffer): void {
  assert.equal(body.length, TOTAL);
  for (let i = 0; i < CHUNKS; i++) {
    if (!body.subarray(i * CHUNK, (i + 1) * CHUNK).equals(chunk(i))) assert.fail(`chunk ${i} is corrupt`);
  }
}

/** Reads the whole response from a paused socket: returns head and body bytes. */
function readToEnd(socket: Socket, bodyBytes: number): Promise<{ head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let headEnd = -1;
    const onData = (data: Buffer) => {
      parts.push(data);
      size += data.length;
      if (headEnd === -1) {
        headEnd = Buffer.concat(parts).indexOf("\r\n\r\n");
        if (headEnd === -1) return;
      }
      if (size >= headEnd + 4 + bodyBytes) {
        socket.off("data", onData);
        const all = Buffer.concat(parts);
        resolve({ head: all.toString("latin1", 0, headEnd), body: all.subarray(headEnd + 4) });
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.resume();
  });
}

/** Reads until the chunked body's last chunk (the body's bytes are uniform runs, so "0\\r\\n\\r\\n" is framing). */
function readUntilLastChunk(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let tail = "";
    const onData = (data: Buffer) => {
      parts.push(data);
      size += data.length;
      tail = (tail + data.toString("latin1", Math.max(0, data.length - 16))).slice(-16);
      if (size > TOTAL && tail.endsWith("\r\n0\r\n\r\n")) {
        socket.off("data", onData);
        resolve(Buffer.concat(parts));
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.resume();
  });
}

describe("backpressure", () => {
  test("a client that does not read stops the iteration; reading resumes it; the body is intact", async (t) => {
    const socket = await rawConnect(port);
    t.after(() => socket.destroy());
    socket.pause();
    socket.write(get("/sized"));
    const stalled = await settle();
    // Socket buffers on both sides hold a few MiB at most; the rest must wait.
    assert.ok(stalled > 0, "the app started");
    assert.ok(
      stalled < CHUNKS / 2,
      `the app produced ${stalled} of ${CHUNKS} chunks for a client that reads nothing`,
    );
    await sleep(200);
    assert.equal(produced, stalled, "still stopped");

    const { head, body } = await readToEnd(socket, TOTAL);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, new RegExp(`\r\nContent-Length: ${TOTAL}\r\n`));
    assert.equal(produced, CHUNKS);
    checkBody(body);
  });

  test("the same with a chunked response", async (t) => {
    const socket = await rawConnect(port);
    t.after(() => socket.destroy());
    socket.pause();
    socket.write(get("/chunked"));
    const stalled = await settle();
    assert.ok(stalled < CHUNKS / 2, `the app produced ${stalled} of ${CHUNKS} chunks`);
    const raw = await readUntilLastChunk(socket);
    const parsed = parseResponse(raw);
    assert.ok(parsed !== null, "a complete response");
    assert.equal(parsed.used, raw.length, "nothing after the last chunk");
    const res = parsed.response;
    assert.equal(res.framing, "chunked");
    assert.equal(header(res, "transfer-encoding"), "chunked");
    assert.equal(produced, CHUNKS);
    checkBody(res.body);
  });
});

describe("pipelining without reading", () => {
  test("the server stops answering a client that sends requests but reads nothing, and catches up later", async (t) => {
    let calls = 0;
    const body = "z".repeat(8192);
    const s = await startServer((_environ: Environ, startResponse: StartResponse) => {
      calls++;
      startResponse("200 OK", []);
      return [body];
    });
    t.after(() => s.server.close(1000));
    const socket = await rawConnect(s.port);
    t.after(() => socket.destroy());
    socket.pause();
    const n = 5000;
    socket.write(get("/").repeat(n));
    let last = -1;
    while (calls !== last) {
      last = calls;
      await sleep(200);
    }
    assert.ok(calls < n / 2, `${calls} of ${n} requests answered for a client that reads nothing`);
    let received = 0;
    socket.on("data", (d: Buffer) => {
      received += d.length;
    });
    socket.resume();
    const start = Date.now();
    while (calls < n && Date.now() - start < 10_000) await sleep(20);
    assert.equal(calls, n);
    // Every response has the same size (the Date header has a fixed width).
    const probe = await Client.open(s.port);
    probe.send(get("/"));
    const responseSize = (await probe.read()).raw.length;
    probe.destroy();
    while (received < n * responseSize && Date.now() - start < 10_000) await sleep(20);
    assert.equal(received, n * responseSize);
  });
});

describe("send timeout", () => {
  test("a client that never reads is disconnected after sendTimeout", async (t) => {
    const s = await startServer(app, { sendTimeout: 500 });
    t.after(() => s.server.close(1000));
    const socket = await rawConnect(s.port);
    t.after(() => socket.destroy());
    socket.on("error", () => {});
    socket.pause();
    socket.write(get("/sized"));
    const stalled = await settle(100);
    // Blocked since the settle began at the latest; the server gives up sendTimeout (+ a sweep tick) later.
    const start = Date.now();
    while (s.server.connectionCount > 0 && Date.now() - start < 3000) await sleep(25);
    assert.equal(s.server.connectionCount, 0, "the server dropped the connection");
    assert.ok(Date.now() - start < 1500, `after ${Date.now() - start} ms`);
    assert.ok(produced < CHUNKS / 2, `iteration stopped (${produced} of ${CHUNKS}, ${stalled} when blocked)`);
    // The client sees the connection end once it reads what was buffered.
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("data", () => {});
    socket.resume();
    await ended;
  });

  test("a raw handler that ignores write()'s return value is not cut off while the client reads", async (t) => {
    // Every write overfills the socket buffer (64 KiB > highWaterMark), so
    // write() returns false; the client reads everything at once, and the
    // pauses between writes are longer than sendTimeout.
    const piece = Buffer.alloc(64 * 1024, 0x7a);
    const pieces = 2;
    const s = await startRaw(
      (ex) => {
        ex.respond({ status: 200, headers: [] });
        let n = 0;
        const timer = setInterval(() => {
          if (ex.finished) {
            clearInterval(timer);
            return;
          }
          ex.write(piece);
          if (++n === pieces) {
            clearInterval(timer);
            ex.end();
          }
        }, 600);
      },
      { sendTimeout: 250 },
    );
    t.after(() => s.server.close(1000));
    const c = await Client.open(s.port);
    t.after(() => c.destroy());
    c.send(get("/"));
    const res = await c.read({ timeoutMs: 5000 });
    assert.equal(res.body.length, piece.length * pieces);
    assert.equal(c.ended, false);
  });
});
