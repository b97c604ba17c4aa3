/**
 * The shared read buffer (src/server/socket-reads.ts) over real sockets:
 * many connections sending at once in odd-sized pieces each get exactly
 * their own bytes (one buffer serves them all), a socket handed to an
 * `'upgrade'` listener is read through `'data'` events with working
 * backpressure and no byte lost at the handover, and the switches that
 * force stream reads (option, `TSGI_SOCKET_READS`, `--socket-reads`) work.
 * The whole suite also runs with `TSGI_SOCKET_READS=stream` in CI, so
 * every other test covers both modes.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { createServer as createTsgiServer } from "../../src/gateways/node/index.ts";
import { readsShared, sharedReadsFor, socketReadsFromEnv } from "../../src/server/socket-reads.ts";
import { runCli, startServer } from "../helpers.ts";

const forcedStream = socketReadsFromEnv() === "stream";

/** `size` bytes that differ per connection `id` and per position, so a byte from another connection shows. */
function pattern(id: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + id * 17 + (i >> 8)) & 0xff;
  return bytes;
}

/** Writes `bytes` to `socket` in pieces of 1 to 7919 bytes, yielding between them so other connections interleave. */
async function writeInPieces(socket: Socket, bytes: Buffer, seed: number): Promise<void> {
  let offset = 0;
  let n = seed;
  while (offset < bytes.length) {
    n = (n * 1103515245 + 12345) & 0x7fffffff;
    const size = 1 + (n % 7919);
    const ok = socket.write(bytes.subarray(offset, offset + size));
    offset += size;
    if (!ok) await once(socket, "drain");
    else if (n % 3 === 0) await new Promise((r) => setImmediate(r));
  }
}

/** Reads the whole response from `socket` until it closes. */
function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("error", reject);
  });
}

describe("one read buffer shared by every connection", () => {
  let port: number;
  let close: () => Promise<void>;

  before(async () => {
    // Answers each POST with the SHA-256 of the body it read, and the connection's id from the URL.
    const app = {
      async fetch(request: Request): Promise<Response> {
        const body = new Uint8Array(await request.arrayBuffer());
        const digest = createHash("sha256").update(body).digest("hex");
        return new Response(`${new URL(request.url).pathname} ${body.length} ${digest}`);
      },
    };
    const s = await startServer(app, { accessLog: false });
    port = s.port;
    close = () => s.server.close();
    assert.equal(s.server.sharedReads === null, forcedStream);
  });
  after(() => close());

  test("40 connections upload 3 pipelined bodies each at once, in odd pieces: each gets its own bytes", async () => {
    const clients = Array.from({ length: 40 }, async (_, id) => {
      const socket = connect(port, "127.0.0.1");
      await once(socket, "connect");
      const done = readAll(socket);
      const bodies = [0, 1, 2].map((k) => pattern(id * 3 + k, 50_000 + id * 997 + k * 4099));
      const wire = Buffer.concat(
        bodies.flatMap((body, k) => [
          Buffer.from(
            `POST /c${id}r${k} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n${k === 2 ? "Connection: close\r\n" : ""}\r\n`,
          ),
          body,
        ]),
      );
      await writeInPieces(socket, wire, id + 1);
      const text = await done;
      const answers = [...text.matchAll(/\r\n\r\n(\/c\d+r\d \d+ [0-9a-f]{64})/g)].map((m) => m[1]);
      const expected = bodies.map(
        (body, k) => `/c${id}r${k} ${body.length} ${createHash("sha256").update(body).digest("hex")}`,
      );
      assert.deepEqual(answers, expected, `connection ${id}`);
    });
    await Promise.all(clients);
  });
});

describe("a socket handed to an 'upgrade' listener", () => {
  let port: number;
  let server: ReturnType<typeof createTsgiServer>;
  const handed: { shared: boolean; connectionShared: boolean[] } = { shared: true, connectionShared: [] };

  before(async () => {
    server = createTsgiServer();
    server.on("connection", (socket: Socket) => {
      // 'connection' comes before tsgi's connection attaches its reads.
      setImmediate(() => handed.connectionShared.push(readsShared(socket)));
    });
    // An echo protocol on the raw socket: holds reads for a while (backpressure), then echoes everything.
    server.on("upgrade", (_req: IncomingMessage, socket: Socket, head: Buffer) => {
      handed.shared = readsShared(socket);
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
      socket.write(head);
      socket.pause();
      setTimeout(() => {
        socket.on("data", (chunk: Buffer) => {
          if (!socket.write(chunk)) {
            socket.pause();
            socket.once("drain", () => socket.resume());
          }
        });
        socket.on("end", () => socket.end());
        socket.resume();
      }, 200);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test("reads 'data' events after the handover: 8 MiB echoed byte for byte, sent with the head and after it", async () => {
    const payload = pattern(7, 8 * 1024 * 1024);
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    const received: Buffer[] = [];
    let total = 0;
    let headSeen = false;
    const done = new Promise<void>((resolve, reject) => {
      socket.on("data", (chunk: Buffer) => {
        received.push(chunk);
        total += chunk.length;
        if (!headSeen) {
          const all = Buffer.concat(received);
          const end = all.indexOf("\r\n\r\n");
          if (end < 0) return;
          headSeen = true;
          received.length = 0;
          received.push(all.subarray(end + 4));
          total = all.length - end - 4;
        }
        if (total >= payload.length) resolve();
      });
      socket.on("error", reject);
    });
    // The first 100 KiB ride in the same write as the request head: they are the listener's `head` or its first reads.
    socket.write(
      Buffer.concat([
        Buffer.from("GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"),
        payload.subarray(0, 100 * 1024),
      ]),
    );
    await writeInPieces(socket, payload.subarray(100 * 1024), 99);
    await done;
    socket.end();
    const echoed = Buffer.concat(received);
    assert.equal(echoed.length, payload.length);
    assert.ok(echoed.equals(payload), "the echo differs from what was sent");
    assert.equal(handed.shared, false, "the listener's socket is read through 'data' events");
    if (!forcedStream)
      assert.ok(handed.connectionShared.includes(true), "tsgi read the connection into the shared buffer");
  });
});

describe("switching to stream reads", () => {
  test("the option and the environment variable turn the shared buffer off", () => {
    assert.equal(sharedReadsFor("stream", {}), null);
    assert.equal(sharedReadsFor("buffer", { TSGI_SOCKET_READS: "stream" }), null);
    assert.notEqual(sharedReadsFor("buffer", {}), null);
    assert.equal(socketReadsFromEnv({ TSGI_SOCKET_READS: "buffer" }), "buffer");
    assert.equal(socketReadsFromEnv({ TSGI_SOCKET_READS: "other" }), null);
  });

  test("--socket-reads takes buffer or stream, and says so otherwise", async () => {
    const bad = await runCli(["--socket-reads", "fast", "examples/demo_app.ts"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--socket-reads takes buffer or stream/);
  });

  test("a server told to read streams serves as before", async () => {
    const s = await startServer(
      { fetch: () => new Response("streamed") },
      { socketReads: "stream", accessLog: false },
    );
    try {
      assert.equal(s.server.sharedReads, null);
      const response = await fetch(s.url);
      assert.equal(await response.text(), "streamed");
    } finally {
      await s.server.close();
    }
  });
});
