/**
 * Responses that end early still get their access line and their count:
 * a client that leaves mid-response, and an app that throws after the head
 * went out, on each gateway (WSGI-style, Fetch, ASGI-style), over real
 * sockets. The line carries the status as sent (499 when no head went out),
 * the body bytes handed to the socket and a mark that the response was cut
 * short; the metrics count it by status and in tsgi_requests_incomplete_total.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import type { AccessLogFormat } from "../../src/server/access-log.ts";
import { Logger } from "../../src/server/log.ts";
import { RequestStats, renderPrometheus } from "../../src/server/metrics.ts";
import { Capture, openSocket, startServer } from "../helpers.ts";
import { waitFor } from "../workers/support.ts";

const enc = new TextEncoder();

/** Resolved by the test client once it received a response head (the Fetch /throw app waits for it). */
let headSeen: Promise<void> = Promise.resolve();
let sawHead: () => void = () => {};
const PIECE = "x".repeat(16 * 1024);

/** Apps of each gateway with the same three paths. */
const APPS = {
  // /leave: the first 5 bytes, then (as long as the client stays) more;
  // /throw: "partial" (7 bytes), then an exception; /before: no head until the client left.
  wsgi: (environ: Environ, startResponse: StartResponse) => {
    const path = environ.PATH_INFO;
    if (path === "/before") {
      // A synchronous app cannot wait: this one is only in the Fetch and ASGI-style tables.
      startResponse("204 No Content", []);
      return [];
    }
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    if (path === "/throw") {
      return (function* () {
        yield enc.encode("partial");
        throw new Error("app failed after the head");
      })();
    }
    // A body the client never finishes reading: the server stops at full socket buffers.
    return (function* () {
      yield enc.encode("first");
      for (;;) yield enc.encode(PIECE);
    })();
  },
  fetch: {
    fetch(request: Request) {
      const path = new URL(request.url).pathname;
      if (path === "/before") {
        return new Promise<Response>((resolve) =>
          request.signal.addEventListener("abort", () => resolve(new Response("late"))),
        );
      }
      let sent = false;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (!sent) {
              sent = true;
              controller.enqueue(enc.encode(path === "/throw" ? "partial" : "first"));
              return;
            }
            if (path === "/throw") {
              // The gateway waits a moment for a second piece before it sends the head:
              // fail only once the client has the head, so the failure comes after it.
              return headSeen.then(() => {
                throw new Error("app failed after the head");
              });
            }
            // /leave: never another byte; the stream stays open until the client leaves.
            return new Promise<void>(() => {});
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    },
  },
  asgi: async (scope: Scope, receive: Receive, send: Send) => {
    if (scope.type !== "http") return;
    if (scope.path === "/before") {
      await receive(); // the (empty) body
      await receive(); // http.disconnect, once the client left
      return;
    }
    await send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] });
    if (scope.path === "/throw") {
      await send({ type: "http.response.body", body: enc.encode("partial"), more_body: true });
      throw new Error("app failed after the head");
    }
    await send({ type: "http.response.body", body: enc.encode("first"), more_body: true });
    await receive();
    await receive(); // http.disconnect
  },
} as const;

async function serveApp(kind: keyof typeof APPS, format: AccessLogFormat) {
  const access = new Capture();
  const errors = new Capture();
  const logger = new Logger(
    "info",
    errors as unknown as NodeJS.WritableStream,
    access as unknown as NodeJS.WritableStream,
    format,
  );
  const s = await startServer(APPS[kind], { interface: kind, logger });
  const stats = new RequestStats();
  s.server.stats = stats;
  return { ...s, access, errors, stats };
}

/** Sends GET `path`, waits for the first body byte (with `afterBody`), then leaves. */
async function leaveEarly(port: number, path: string, afterBody: boolean): Promise<void> {
  const socket = await openSocket(port);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
  if (afterBody) {
    let received = "";
    await new Promise<void>((resolve, reject) => {
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString("latin1");
        const end = received.indexOf("\r\n\r\n");
        if (end !== -1 && received.length > end + 4) resolve();
      });
      socket.on("error", reject);
    });
  } else {
    // Give the request time to reach the app; the line does not depend on how long.
    await new Promise((r) => setTimeout(r, 50));
  }
  socket.destroy();
}

/** Reads the whole response to GET `path` until the server closes. */
async function readUntilClosed(port: number, path: string): Promise<string> {
  headSeen = new Promise((resolve) => {
    sawHead = resolve;
  });
  const socket = await openSocket(port);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
  let received = "";
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
    if (received.includes("\r\n\r\n")) sawHead();
  });
  await new Promise<void>((resolve) => {
    socket.on("close", () => resolve());
    socket.on("error", () => {});
  });
  return received;
}

async function accessLines(access: Capture, n: number): Promise<string[]> {
  await waitFor(() => access.text.split("\n").length > n, `${n} access lines`, 10_000);
  return access.text.trimEnd().split("\n");
}

for (const kind of ["wsgi", "fetch", "asgi"] as const) {
  describe(`a response cut short is logged and counted (${kind})`, () => {
    test("the client leaves mid-response: status as sent, the body bytes sent, complete false", async () => {
      const s = await serveApp(kind, "json");
      try {
        await leaveEarly(s.port, "/leave", true);
        const [line] = await accessLines(s.access, 1);
        const entry = JSON.parse(line!) as Record<string, unknown>;
        assert.equal(entry.status, 200, line);
        assert.equal(entry.target, "/leave");
        assert.equal(entry.complete, false, line);
        if (kind === "wsgi") assert.ok((entry.bytes as number) >= 5, line);
        else assert.equal(entry.bytes, 5, line);
        assert.equal(typeof entry.duration, "number");
        const snapshot = s.stats.snapshot(0, 0);
        assert.deepEqual(snapshot.requests, { "200": 1 });
        assert.equal(snapshot.incomplete, 1);
        assert.equal(snapshot.durationCount, 1);
      } finally {
        await s.server.close();
      }
    });

    test("the app throws after the head: status as sent, the bytes sent, marked in the text log", async () => {
      const s = await serveApp(kind, "short");
      try {
        const raw = await readUntilClosed(s.port, "/throw");
        assert.match(raw, /^HTTP\/1\.1 200 /);
        const [line] = await accessLines(s.access, 1);
        assert.match(line!, /^127\.0\.0\.1:\d+ - "GET \/throw HTTP\/1\.1" 200 7 \d+\.\dms incomplete$/);
        assert.match(s.errors.text, /app failed after the head/);
        const text = renderPrometheus(s.stats.snapshot(0, 0));
        assert.match(text, /^tsgi_requests_total\{status="200"\} 1$/m);
        assert.match(text, /^tsgi_requests_incomplete_total 1$/m);
      } finally {
        await s.server.close();
      }
    });

    if (kind !== "wsgi") {
      test("the client leaves before the head: 499, no bytes, complete false", async () => {
        const s = await serveApp(kind, "json");
        try {
          await leaveEarly(s.port, "/before", false);
          const [line] = await accessLines(s.access, 1);
          const entry = JSON.parse(line!) as Record<string, unknown>;
          assert.equal(entry.status, 499, line);
          assert.equal(entry.bytes, 0, line);
          assert.equal(entry.complete, false, line);
          assert.deepEqual(s.stats.snapshot(0, 0).requests, { "499": 1 });
        } finally {
          await s.server.close();
        }
      });
    }
  });
}
