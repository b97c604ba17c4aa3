/**
 * A Fastify 5 app on the node:http-style gateway: recognised by
 * `--interface auto`, `ready()` awaited before tsgi listens (plugins and
 * `onReady` hooks have run before the first request), requests delivered to
 * `app.server` (routes, a JSON POST, a streamed reply, a WebSocket through
 * its `'upgrade'`), `close()` after the drain at SIGTERM; served by the
 * built CLI and by `serve()`. Apps tsgi cannot serve are refused with a reason.
 */

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import Fastify from "fastify";
import { WebSocket } from "ws";
import { LifespanError } from "../../src/gateways/lifespan.ts";
import { ServerListeningError } from "../../src/gateways/node/app.ts";
import { detectInterface, NotAnAppError } from "../../src/gateways/select.ts";
import { serve } from "../../src/serve.ts";
import { type CliProcess, runCli, startCli } from "../helpers.ts";
import { Load, pidOf, waitFor } from "../workers/support.ts";

const FIXTURE = "test/fixtures/apps/node/fastify_app.mjs";
const quiet = { port: 0, host: "127.0.0.1", accessLog: false, logLevel: "critical" } as const;

describe("a Fastify app served by the CLI", () => {
  let cli: CliProcess;
  let base: string;

  before(async () => {
    cli = await startCli(["--port", "0", "--no-access-log", FIXTURE], { timeoutMs: 30_000 });
    base = `http://127.0.0.1:${cli.port}`;
  });
  after(() => {
    if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
  });

  test("ready() ran (plugins, onReady) and the server heard 'listening' before Listening on", () => {
    const err = cli.stderr();
    const listening = err.indexOf("Listening on");
    assert.ok(err.indexOf("fixture: onReady") !== -1 && err.indexOf("fixture: onReady") < listening, err);
    assert.ok(err.indexOf("fixture: server listening") !== -1, err);
    assert.ok(err.indexOf("fixture: server listening") < listening, err);
  });

  test("the first request finds the plugin's routes and the onReady hook done", async () => {
    const r = await fetch(`${base}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await r.json(), { hello: "fastify", ready: true });
  });

  test("route params and query", async () => {
    const r = await fetch(`${base}/users/42?q=x`);
    assert.deepEqual(await r.json(), { id: "42", q: "x" });
  });

  test("a JSON POST: Fastify's body parser, reply.code and reply.header", async () => {
    const body = JSON.stringify({ a: [1, 2], s: "é" });
    const r = await fetch(`${base}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("x-handled-by"), "fastify");
    assert.deepEqual(await r.json(), { got: { a: [1, 2], s: "é" }, length: String(Buffer.byteLength(body)) });
  });

  test("a streamed reply, a 404 and a 415 from Fastify itself", async () => {
    const s = await fetch(`${base}/stream`);
    assert.equal(await s.text(), "abc");
    assert.equal((await fetch(`${base}/nowhere`)).status, 404);
    const bad = await fetch(`${base}/echo`, {
      method: "POST",
      headers: { "content-type": "application/x-unknown" },
      body: "x",
    });
    assert.equal(bad.status, 415);
  });

  test("app.addresses() answers tsgi's address (app.server.address() while served)", async () => {
    const r = await fetch(`${base}/addresses`);
    assert.deepEqual(await r.json(), [{ address: "127.0.0.1", family: "IPv4", port: cli.port }]);
  });

  test("a WebSocket through app.server's 'upgrade' listener (as @fastify/websocket)", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/ws`);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const reply = new Promise<string>((resolve) => ws.once("message", (d) => resolve(String(d))));
    ws.send("hi fastify");
    assert.equal(await reply, "hi fastify");
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
  });

  test("SIGTERM: tsgi drains, then close() runs the onClose hooks; exit 0", async () => {
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    const err = cli.stderr();
    const shutting = err.indexOf("SIGTERM: shutting down");
    assert.match(err, /fixture: onClose after [1-9]\d* requests/);
    assert.ok(shutting !== -1 && err.indexOf("fixture: onClose") > shutting, err);
    assert.ok(err.indexOf("fixture: server close") > shutting, err);
  });
});

test("an onReady hook that never finishes: --startup-timeout stops the CLI before it listens", async () => {
  const { code, stderr } = await runCli(["--port", "0", "--startup-timeout", "1", FIXTURE], {
    timeoutMs: 30_000,
    env: { HANG_READY: "1" },
  });
  assert.equal(code, 1);
  assert.match(stderr, /Fastify's ready\(\) did not complete within 1s/);
  assert.doesNotMatch(stderr, /Listening on/);
});

test("--workers 2 and a SIGHUP reload under load: each worker runs ready() and close(); no request fails", async () => {
  const cli = await startCli(["--port", "0", "--workers", "2", "--no-access-log", FIXTURE], {
    timeoutMs: 30_000,
  });
  const count = (text: string) => cli.stderr().split(text).length - 1;
  let traffic: Load | undefined;
  try {
    assert.equal(count("fixture: onReady"), 2);
    const load = new Load(cli.port, "/pid", 4);
    traffic = load;
    await waitFor(
      () => load.outcomes.filter((o) => o.ok).length >= 20,
      "responses from the first workers",
      30_000,
    );
    const first = new Set(load.outcomes.map(pidOf));
    cli.child.kill("SIGHUP");
    await waitFor(() => /Reloaded/.test(cli.stderr()), "the reload", 30_000);
    // Serving from the new workers only, whose ready() ran before they listened.
    await waitFor(
      () => {
        const last = load.outcomes.slice(-20);
        return last.length === 20 && last.every((o) => o.ok && !first.has(pidOf(o)));
      },
      "responses from the new workers",
      30_000,
    );
    const outcomes = await load.stop();
    assert.deepEqual(
      outcomes.filter((o) => !o.ok),
      [],
      "no request failed during the reload",
    );
    assert.equal(count("fixture: onReady"), 4);
    await waitFor(() => count("fixture: onClose") === 2, "the old workers' close()", 30_000);
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    assert.equal(count("fixture: onClose"), 4);
  } finally {
    await traffic?.stop();
    if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
  }
});

describe("a Fastify app served by serve()", () => {
  test("is recognised by --interface auto, before the Koa and ASGI rules", () => {
    const app = Fastify();
    assert.equal(detectInterface(app), "node");
    assert.equal(detectInterface(app, "node"), "node");
  });

  test("a plugin that fails makes startup fail with a LifespanError, and nothing listens", async () => {
    const app = Fastify();
    app.register(async () => {
      throw new Error("no database");
    });
    await assert.rejects(
      serve(app, quiet),
      (err: unknown) =>
        err instanceof LifespanError && /Fastify's ready\(\) failed: no database/.test(err.message),
    );
  });

  test("onClose runs at server.close(), after in-flight requests finished", async () => {
    const app = Fastify();
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let arrived!: () => void;
    const inside = new Promise<void>((r) => {
      arrived = r;
    });
    app.get("/slow", async () => {
      arrived();
      await held;
      events.push("slow answered");
      return "slow";
    });
    app.addHook("onClose", async () => {
      events.push("onClose");
    });
    const server = await serve(app, quiet);
    const slow = fetch(`${server.url}/slow`).then((r) => r.text());
    await inside;
    const closing = server.close();
    release();
    assert.equal(await slow, "slow");
    await closing;
    assert.deepEqual(events, ["slow answered", "onClose"]);
    assert.equal(app.server.listening, false);
  });

  test("a serverFactory returning an http.Server is served through that server", async () => {
    let made = 0;
    const app = Fastify({
      serverFactory: (handler) => {
        made++;
        return http.createServer((req, res) => handler(req, res));
      },
    });
    app.get("/", async () => "factory");
    const server = await serve(app, quiet);
    try {
      assert.equal(await (await fetch(server.url)).text(), "factory");
      assert.equal(made, 1);
    } finally {
      await server.close();
    }
    assert.equal(app.server.listening, false);
  });

  test("http2 is refused with a reason", async () => {
    await assert.rejects(
      () => serve(Fastify({ http2: true }), quiet),
      (err: unknown) => err instanceof NotAnAppError && /http2/.test(err.message),
    );
  });

  test("https is refused: tsgi does the TLS", async () => {
    // No certificate is needed to construct it; it is never listened.
    await assert.rejects(
      () => serve(Fastify({ https: {} }), quiet),
      (err: unknown) => err instanceof NotAnAppError && /--ssl-keyfile/.test(err.message),
    );
  });

  test("an app that listens already is refused", async () => {
    const app = Fastify();
    await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      await assert.rejects(serve(app, quiet), ServerListeningError);
    } finally {
      await app.close();
    }
  });
});
