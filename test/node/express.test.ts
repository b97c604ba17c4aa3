/**
 * An Express 5 app through the node:http-style gateway over real sockets
 * (undici's fetch): auto-detection, routing, a JSON body, `res.json`,
 * `res.sendFile` streaming a file, errors, and genuine node classes.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { IncomingMessage, ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import express from "express";
import { detectInterface } from "../../src/gateways/select.ts";
import { serve } from "../../src/serve.ts";
import type { Server } from "../../src/server/server.ts";

const bigFile = fileURLToPath(new URL("../../package-lock.json", import.meta.url));

describe("Express on the node gateway", () => {
  let server: Server;
  let base: string;
  const seen: { req: boolean; res: boolean } = { req: false, res: false };

  before(async () => {
    const app = express();
    app.set("env", "test"); // finalhandler: no stack traces on stderr
    app.use(express.json());
    app.get("/", (_req, res) => {
      res.send("hello");
    });
    app.get("/users/:id", (req, res) => {
      res.json({ id: req.params.id, q: req.query.q ?? null });
    });
    app.post("/echo", (req, res) => {
      res.status(201).json({ got: req.body, length: req.get("content-length") });
    });
    app.get("/classes", (req, res) => {
      seen.req = req instanceof IncomingMessage;
      seen.res = res instanceof ServerResponse;
      res.type("text").send(`${req.ip} ${req.protocol}`);
    });
    app.get("/file", (_req, res) => {
      res.sendFile(bigFile);
    });
    app.get("/boom", () => {
      throw new Error("boom");
    });
    app.get("/async-boom", async () => {
      throw new Error("async boom");
    });
    app.get("/custom", (_req, _res, next) => next(Object.assign(new Error("teapot"), { status: 418 })));
    app.use(
      (
        err: Error & { status?: number },
        _req: express.Request,
        res: express.Response,
        next: express.NextFunction,
      ) => {
        if (err.status !== 418) return next(err);
        res.status(418).json({ error: err.message });
      },
    );
    assert.equal(detectInterface(app), "node");
    server = await serve(app, { port: 0, accessLog: false, logLevel: "critical" });
    base = server.url;
  });
  after(() => server.close(200));

  test("routes and res.send", async () => {
    const r = await fetch(`${base}/`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "hello");
    assert.equal(r.headers.get("content-length"), "5");
    assert.match(r.headers.get("etag") ?? "", /^W\//);
  });

  test("route params, query and res.json", async () => {
    const r = await fetch(`${base}/users/42?q=x`);
    assert.deepEqual(await r.json(), { id: "42", q: "x" });
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
  });

  test("express.json() reads the body", async () => {
    const r = await fetch(`${base}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: [1, 2] }),
    });
    assert.equal(r.status, 201);
    assert.deepEqual(await r.json(), { got: { a: [1, 2] }, length: "11" });
  });

  test("req and res are node's own classes (after Express's prototype swap)", async () => {
    const r = await fetch(`${base}/classes`);
    assert.equal(await r.text(), "127.0.0.1 http");
    assert.deepEqual(seen, { req: true, res: true });
  });

  test("res.sendFile streams a file", async () => {
    const r = await fetch(`${base}/file`);
    assert.equal(r.status, 200);
    const body = Buffer.from(await r.arrayBuffer());
    assert.ok(body.equals(readFileSync(bigFile)));
    assert.equal(r.headers.get("content-length"), String(body.length));
  });

  test("HEAD gets the headers without a body", async () => {
    const r = await fetch(`${base}/`, { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-length"), "5");
    assert.equal(await r.text(), "");
  });

  test("a thrown error is Express's 500", async () => {
    const r = await fetch(`${base}/boom`);
    assert.equal(r.status, 500);
    const r2 = await fetch(`${base}/async-boom`);
    assert.equal(r2.status, 500);
  });

  test("error middleware answers", async () => {
    const r = await fetch(`${base}/custom`);
    assert.equal(r.status, 418);
    assert.deepEqual(await r.json(), { error: "teapot" });
  });

  test("404 from Express's final handler", async () => {
    const r = await fetch(`${base}/nowhere`);
    assert.equal(r.status, 404);
  });
});
