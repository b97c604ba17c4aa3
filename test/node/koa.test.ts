/**
 * A Koa 3 app on the node:http-style gateway, over real sockets: routing by
 * middleware, a JSON body read from `ctx.req`'s stream, `ctx.status` and
 * headers, a streamed body, `ctx.throw`, HEAD and Koa's 404; served by the
 * built CLI (auto-detected) and by `serve()`.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type Koa from "koa";
import { detectInterface } from "../../src/gateways/select.ts";
import { serve } from "../../src/serve.ts";
import { type CliProcess, startCli } from "../helpers.ts";
import { raw } from "./support.ts";

const FIXTURE = "test/fixtures/apps/node/koa_app.mjs";

/** The same checks against a running Koa fixture at `base()`. */
function koaChecks(base: () => string): void {
  test("routing by middleware; the outer middleware runs after the route", async () => {
    const r = await fetch(`${base()}/`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "hello from koa");
    assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(r.headers.get("content-length"), "14");
    assert.equal(r.headers.get("x-middleware"), "after GET /");
  });

  test("a JSON body read from the request stream; ctx.status and ctx.set", async () => {
    const body = JSON.stringify({ a: 1, b: ["x", "é"], c: null });
    const r = await fetch(`${base()}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("x-items"), "3");
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await r.json(), {
      got: { a: 1, b: ["x", "é"], c: null },
      length: String(Buffer.byteLength(body)),
    });
  });

  test("a chunked request body reaches ctx.req too", async () => {
    const text = await raw(
      Number(new URL(base()).port),
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" +
        'Connection: close\r\n\r\n4\r\n{"k"\r\n5\r\n: 42}\r\n0\r\n\r\n',
      10_000,
    );
    assert.match(text, /^HTTP\/1\.1 201 /);
    assert.ok(text.endsWith('{"got":{"k":42},"length":""}'), text);
  });

  test("a streamed body goes out chunked, in order", async () => {
    const r = await fetch(`${base()}/stream?n=200`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("transfer-encoding"), "chunked");
    const lines = (await r.text()).split("\n");
    assert.equal(lines.length, 201);
    assert.equal(lines[0], "line 0");
    assert.equal(lines[199], "line 199");
  });

  test("ctx.throw gives Koa's own error response", async () => {
    const r = await fetch(`${base()}/teapot`);
    assert.equal(r.status, 418);
    assert.equal(await r.text(), "short and stout");
    const u = await fetch(`${base()}/echo`, {
      method: "POST",
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(u.status, 415);
  });

  test("HEAD and Koa's 404", async () => {
    const h = await fetch(`${base()}/`, { method: "HEAD" });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get("content-length"), "14");
    assert.equal(await h.text(), "");
    const n = await fetch(`${base()}/nowhere`);
    assert.equal(n.status, 404);
    assert.equal(await n.text(), "Not Found");
    assert.equal(n.headers.get("x-middleware"), "after GET /nowhere");
  });

  test("ctx.ip, ctx.protocol, ctx.host from the connection", async () => {
    const r = await fetch(`${base()}/where?x=1`);
    assert.deepEqual(await r.json(), {
      ip: "127.0.0.1",
      protocol: "http",
      host: new URL(base()).host,
      url: "/where?x=1",
    });
  });
}

describe("a Koa 3 app served by the CLI", () => {
  let cli: CliProcess;
  before(async () => {
    cli = await startCli(["--port", "0", "--no-access-log", FIXTURE], { timeoutMs: 30_000 });
  });
  after(async () => {
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
  });
  koaChecks(() => `http://127.0.0.1:${cli.port}`);
});

describe("a Koa 3 app served by serve()", () => {
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    // The same module the CLI loads (a URL, so the type checker does not look for its .d.ts).
    const app = ((await import(new URL(`../../${FIXTURE}`, import.meta.url).href)) as { default: Koa })
      .default;
    assert.equal(detectInterface(app), "node");
    server = await serve(app, { port: 0, host: "127.0.0.1", accessLog: false, logLevel: "critical" });
  });
  after(() => server.close(2000));
  koaChecks(() => server.url);
});
