/**
 * Clients that reset: in the middle of a request body, while a streamed
 * response is being written (EPIPE/ECONNRESET on our side), and a WebSocket
 * reset mid-message, for each gateway. The server must not crash, must tell
 * the app (request.signal, http.disconnect, the result's close()), must not
 * log a stack trace for the client's doing, and afterwards must hold no
 * connection, socket or timer it did not hold before.
 */

import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { describe, test } from "node:test";
import type { Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
import { upgradeWebSocket } from "../../src/gateways/fetch/websocket.ts";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import type { ServeAppOptions } from "../../src/serve.ts";
import { startServer } from "../helpers.ts";

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/** Resources of the kinds a leak would show (sockets, timers), counted by type. */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", () => {}); // the reset is ours
    socket.once("error", reject);
  });
}

/** Sends `head` (and some body), waits until the app has seen the request, then resets. */
async function resetAfter(port: number, head: string, seen: () => boolean, readFirst = false): Promise<void> {
  const socket = await open(port);
  socket.write(head);
  if (!readFirst) socket.write(CHUNK);
  await until(seen, "the app to see the request");
  if (readFirst) {
    // Let part of the streamed response arrive, then stop reading and reset.
    await new Promise<void>((resolve) => socket.once("data", () => resolve()));
  }
  socket.resetAndDestroy();
}

/** Runs `attack` against `app`, then checks the server is clean and still serves. */
async function survives(
  app: unknown,
  options: ServeAppOptions,
  attack: (port: number) => Promise<void>,
  notified: () => boolean,
): Promise<void> {
  const s = await startServer(app, { accessLog: false, ...options });
  const before = resources();
  try {
    await attack(s.port);
    await until(notified, "the app to be told the client left");
    await until(() => s.server.connectionCount === 0, "the server to drop the connection");
    // Nothing of the attack is left: no socket, no timer beyond what was there before.
    await until(
      () => {
        const now = resources();
        return [...now].every(([type, n]) => n <= (before.get(type) ?? 0));
      },
      `resources back to ${JSON.stringify([...before])}`,
    );
    assert.doesNotMatch(s.errors.text, /\n\s+at /, "no stack trace for a client's reset");
    const res = await fetch(`${s.url}/healthy`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  } finally {
    await s.server.close(500);
  }
}

const POST = "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n";
const GET_STREAM = "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n";

describe("clients that reset", () => {
  test("WSGI-style: reset mid-body and mid-response; close() is called", async () => {
    let started = 0;
    let closed = 0;
    const app = (environ: Environ, start: StartResponse) => {
      if (environ.PATH_INFO === "/healthy") {
        start("200 OK", []);
        return ["ok"];
      }
      started++;
      start("200 OK", [["Content-Type", "application/octet-stream"]]);
      // An endless body: only the client leaving ends it.
      return {
        *[Symbol.iterator]() {
          for (;;) yield CHUNK;
        },
        close() {
          closed++;
        },
      };
    };
    await survives(
      app,
      { interface: "wsgi" },
      (port) => resetAfter(port, GET_STREAM, () => started === 1, true),
      () => closed === 1,
    );
    // The body is read whole before a WSGI app is called: a reset mid-body never reaches it.
    let called = 0;
    const counting = (environ: Environ, start: StartResponse) => {
      if (environ.PATH_INFO !== "/healthy") called++;
      start("200 OK", []);
      return ["ok"];
    };
    let sent = false;
    await survives(
      counting,
      { interface: "wsgi" },
      async (port) => {
        const socket = await open(port);
        socket.write(POST);
        socket.write(CHUNK, () => {
          sent = true;
        });
        await until(() => sent, "the partial body to be written");
        socket.resetAndDestroy();
      },
      () => true,
    );
    assert.equal(called, 0);
  });

  test("Fetch: request.signal aborts on a reset mid-body and mid-stream", async () => {
    let seen = 0;
    let aborted = 0;
    const app = {
      async fetch(request: Request) {
        const path = new URL(request.url).pathname;
        if (path === "/healthy") return new Response("ok");
        seen++;
        request.signal.addEventListener("abort", () => aborted++);
        if (path === "/upload") {
          await request.arrayBuffer().catch(() => {});
          return new Response("never");
        }
        let n = 0;
        return new Response(
          new ReadableStream({
            pull(controller) {
              controller.enqueue(CHUNK);
              if (++n > 100_000) controller.close();
            },
          }),
        );
      },
    };
    await survives(
      app,
      { interface: "fetch" },
      (port) => resetAfter(port, POST, () => seen === 1),
      () => aborted === 1,
    );
    await survives(
      app,
      { interface: "fetch" },
      (port) => resetAfter(port, GET_STREAM, () => seen === 2, true),
      () => aborted === 2,
    );
  });

  test("ASGI-style: http.disconnect after a reset mid-body and mid-response", async () => {
    let seen = 0;
    let disconnects = 0;
    const app = async (scope: Scope, receive: Receive, send: Send) => {
      if (scope.type !== "http") return;
      if (scope.path === "/healthy") {
        await send({ type: "http.response.start", status: 200, headers: [] });
        await send({ type: "http.response.body", body: new TextEncoder().encode("ok") });
        return;
      }
      seen++;
      if (scope.path === "/upload") {
        for (;;) {
          const event = await receive();
          if (event.type === "http.disconnect") {
            disconnects++;
            return;
          }
        }
      }
      await send({ type: "http.response.start", status: 200, headers: [] });
      try {
        for (;;) await send({ type: "http.response.body", body: CHUNK, more_body: true });
      } catch {
        // send() after the client left raises; receive() then says why.
        if ((await receive()).type === "http.disconnect") disconnects++;
      }
    };
    await survives(
      app,
      { interface: "asgi", lifespan: "off" },
      (port) => resetAfter(port, POST, () => seen === 1),
      () => disconnects === 1,
    );
    await survives(
      app,
      { interface: "asgi", lifespan: "off" },
      (port) => resetAfter(port, GET_STREAM, () => seen === 2, true),
      () => disconnects === 2,
    );
  });

  test("a WebSocket reset in the middle of a message: the app gets 1006", async () => {
    const closes: number[] = [];
    let opened = 0;
    const app = {
      fetch(request: Request) {
        if (new URL(request.url).pathname === "/healthy") return new Response("ok");
        const { socket, response } = upgradeWebSocket(request);
        socket.onopen = () => opened++;
        socket.onclose = (event) => closes.push(event.code);
        return response;
      },
    };
    await survives(
      app,
      { interface: "fetch" },
      async (port) => {
        const socket = await open(port);
        socket.write(
          "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
        await until(() => opened === 1, "the socket to open");
        // A masked binary frame announcing 1000 bytes, of which 10 arrive.
        socket.write(Buffer.from([0x82, 0x80 | 126, 0x03, 0xe8, 1, 2, 3, 4, ...Buffer.alloc(10)]));
        socket.resetAndDestroy();
      },
      () => closes.length === 1,
    );
    assert.deepEqual(closes, [1006]);
  });
});
