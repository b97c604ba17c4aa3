/**
 * `--interface auto` and `--interface node`: which apps the node:http-style
 * gateway serves, and an `http.Server` (made, not listened) served by tsgi.
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import express from "express";
import { detectInterface, NotAnAppError } from "../../src/gateways/select.ts";
import { serve } from "../../src/serve.ts";
import { startCli } from "../helpers.ts";

test("an Express app is node-style, not ASGI, though it takes three parameters", () => {
  const app = express();
  assert.equal(app.length, 3);
  assert.equal(detectInterface(app), "node");
});

test("a Koa-shaped app (callback() and use()) is node-style", () => {
  const koa = { use() {}, callback: () => (_req: unknown, _res: unknown) => {} };
  assert.equal(detectInterface(koa), "node");
});

test("an http.Server is node-style; a plain (req, res) function only with --interface node", () => {
  assert.equal(detectInterface(http.createServer()), "node");
  const plain = (_req: unknown, _res: unknown) => {};
  assert.equal(detectInterface(plain), "wsgi");
  assert.equal(detectInterface(plain, "node"), "node");
  assert.throws(() => detectInterface(42, "node"), NotAnAppError);
});

test("a Koa-shaped app is served through callback()", async () => {
  const koa = {
    use() {},
    callback: () => (_req: http.IncomingMessage, res: http.ServerResponse) => res.end("koa"),
  };
  const server = await serve(koa, { port: 0, accessLog: false });
  try {
    assert.equal(await (await fetch(server.url)).text(), "koa");
  } finally {
    await server.close(200);
  }
});

test("an http.Server not listening gets its 'request' events from tsgi", async () => {
  const nodeServer = http.createServer((req, res) => res.end(`via ${req.method}`));
  const server = await serve(nodeServer, { port: 0, accessLog: false });
  try {
    assert.equal(await (await fetch(server.url)).text(), "via GET");
    // While tsgi serves it, it says where tsgi listens; its own socket was never bound.
    assert.equal(nodeServer.listening, true);
    assert.deepEqual(nodeServer.address(), server.address);
  } finally {
    await server.close(200);
  }
  assert.equal(nodeServer.listening, false);
  assert.equal(nodeServer.address(), null);
});

test("a listening http.Server is refused", async () => {
  const nodeServer = http.createServer();
  nodeServer.listen(0, "127.0.0.1");
  await new Promise((r) => nodeServer.once("listening", r));
  try {
    await assert.rejects(serve(nodeServer, { port: 0, accessLog: false }), /already listening/);
  } finally {
    nodeServer.close();
  }
});

test("a (req, res) handler taken for WSGI-style by auto: its 500 comes with how to choose the interface", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsgi-guess-"));
  const file = join(dir, "plain.mjs");
  writeFileSync(file, 'export default function (req, res) { res.setHeader("x", "1"); res.end("hi"); }\n');
  const cli = await startCli(["--port", "0", "--no-access-log", file]);
  try {
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`http://127.0.0.1:${cli.port}/`);
      assert.equal(r.status, 500);
      await r.text();
    }
    const log = cli.stderr();
    assert.match(log, /res\.setHeader is not a function/);
    assert.match(
      log,
      /--interface auto took this 2-parameter function for a WSGI-style app.*--interface node/,
    );
    // Said once, not per request.
    assert.equal(log.split("--interface auto took").length, 2);
  } finally {
    cli.child.kill("SIGTERM");
    await cli.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("with --interface node the same handler is served", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsgi-guess-"));
  const file = join(dir, "plain.mjs");
  writeFileSync(file, 'export default function (req, res) { res.setHeader("x", "1"); res.end("hi"); }\n');
  const cli = await startCli(["--port", "0", "--no-access-log", "--interface", "node", file]);
  try {
    const r = await fetch(`http://127.0.0.1:${cli.port}/`);
    assert.equal(r.headers.get("x"), "1");
    assert.equal(await r.text(), "hi");
  } finally {
    cli.child.kill("SIGTERM");
    await cli.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
