/**
 * `--trace`: one request through the CLI for each kind of app, and the trace
 * on stderr must show every lifecycle step, in order: accept, read, the
 * parsed request, what the gateway built, the app call, what the app
 * answered, the head and body writes, the keep-alive decision, the close.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { rawRequest, startCli } from "./helpers.ts";

/** Asserts that each pattern matches a line of `trace` after the previous match, and returns the lines. */
function assertInOrder(trace: string, steps: RegExp[]): void {
  const lines = trace.split("\n");
  let at = 0;
  for (const step of steps) {
    const found = lines.findIndex((line, i) => i >= at && step.test(line));
    assert.ok(found !== -1, `trace step ${step} not found after line ${at}:\n${trace}`);
    at = found + 1;
  }
}

async function stderrSettles(get: () => string, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pattern.test(get())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in:\n${get()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("--trace", () => {
  test("a WSGI-style request, step by step", async () => {
    const cli = await startCli(["--port", "0", "--trace", "examples/demo_app.ts"]);
    try {
      const res = await rawRequest(
        cli.port,
        "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
      );
      assert.match(res.text, /^HTTP\/1\.1 200 /);
      await stderrSettles(cli.stderr, /#1 closed/);
      assertInOrder(cli.stderr(), [
        /#1 accept connection from 127\.0\.0\.1:\d+/,
        /#1 read \d+ bytes/,
        /#1 request GET \/hello\?x=1 HTTP\/1\.1/,
        /#1 gateway WSGI-style: environ built/,
        /PATH_INFO: "\/hello"/,
        /#1 app calling app\(environ, startResponse\)/,
        /#1 app startResponse\("200 OK", headers\)/,
        /#1 app returned an array/,
        /#1 write head \d+ bytes \+ body \d+ bytes/,
        /HTTP\/1\.1 200 OK/,
        /#1 done 200 .*closes/,
        /#1 close the response said Connection: close/,
        /#1 closed/,
      ]);
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exited;
    }
  });

  test("a Fetch request with a streamed body, and --trace=bytes", async () => {
    const cli = await startCli(["--port", "0", "--trace=bytes", "examples/hono_app.ts"]);
    try {
      const res = await rawRequest(cli.port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
      assert.match(res.text, /^HTTP\/1\.1 200 /);
      await stderrSettles(cli.stderr, /#1 closed/);
      assertInOrder(cli.stderr(), [
        /#1 accept/,
        /#1 read \d+ bytes/,
        /GET \/ HTTP\/1\.1\\r\\nHost: t\\r\\n/, // the escaped excerpt
        /#1 request GET \/ HTTP\/1\.1/,
        /#1 gateway Fetch: a lazy Request for GET http:\/\/t\//,
        /#1 app calling fetch\(request, info\)/,
        /#1 app returned Response 200/,
        /#1 write head/,
        /#1 done 200/,
        /#1 close/,
        /#1 closed/,
      ]);
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exited;
    }
  });

  test("a WebSocket: handshake, frames both ways, closing handshake", async () => {
    const cli = await startCli(["--port", "0", "--trace", "examples/ws_echo.ts"]);
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/`);
      await once(ws, "open");
      ws.send("hello");
      await once(ws, "message");
      ws.close(1000, "bye");
      await once(ws, "close");
      await stderrSettles(cli.stderr, /#1 ws closed/);
      assertInOrder(cli.stderr(), [
        /#1 accept/,
        /#1 request GET \/ HTTP\/1\.1/,
        /asks to upgrade to websocket/,
        /#1 gateway Fetch/,
        /#1 app returned the WebSocket upgrade response/,
        /#1 write 101 Switching Protocols/,
        /#1 upgrade HTTP is over/,
        /#1 ws recv frame text, 5 bytes, FIN, masked/,
        /#1 ws recv text message, 5 bytes/,
        /#1 ws send text message, 5 bytes/,
        /#1 ws send frame text, 5 bytes, FIN/,
        /#1 ws recv frame close/,
        /#1 ws recv close 1000 bye: echoing it/,
        /#1 ws closed: code 1000 \(bye\), clean/,
      ]);
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exited;
    }
  });

  test("an ASGI-style request: the scope and every event", async () => {
    const cli = await startCli(["--port", "0", "--trace", "--lifespan", "off", "examples/asgi_app.ts"]);
    try {
      const res = await rawRequest(cli.port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
      assert.match(res.text, /^HTTP\/1\.1 200 /);
      await stderrSettles(cli.stderr, /#1 closed/);
      assertInOrder(cli.stderr(), [
        /#1 request GET \/ HTTP\/1\.1/,
        /#1 gateway ASGI-style: http scope built/,
        /method: "GET"/,
        /#1 app calling app\(scope, receive, send\)/,
        /#1 app send\(http\.response\.start \(status 200/,
        /#1 app send\(http\.response\.body/,
        /#1 write head/,
        /#1 closed/,
      ]);
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exited;
    }
  });

  test("a bad --trace value is a usage error", async () => {
    const { runCli } = await import("./helpers.ts");
    const result = await runCli(["--trace=everything", "examples/demo_app.ts"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--trace takes no value or =bytes/);
  });
});
