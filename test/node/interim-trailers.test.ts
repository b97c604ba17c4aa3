/**
 * `res.writeEarlyHints()` (103, RFC 8297) and `res.addTrailers()` (a
 * chunked body's trailer section, RFC 9112 §7.1.2) through the
 * node:http-style gateway, read over raw sockets and by node's own client
 * (which exposes `res.trailers`). Framing stays tsgi's: no 1xx to an
 * HTTP/1.0 client (RFC 9110 §15.2), trailers only with chunked framing (as
 * node), and a trailer that frames or routes (RFC 9110 §6.5.1) is refused.
 */

import assert from "node:assert/strict";
import { get, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createServer, type Server } from "../../src/gateways/node/index.ts";
import { raw } from "./support.ts";

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

describe("103 Early Hints and trailers", () => {
  let server: Server;
  let port: number;
  let route: Listener = (_req, res) => res.end("default");
  const errors: string[] = [];

  before(() => {
    server = createServer({ tsgi: { logLevel: "critical" } }, (req, res) => route(req, res));
    server.listen(0, "127.0.0.1");
    return new Promise<void>((r) => server.once("listening", () => r()));
  });
  before(() => {
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const hints = {
    link: ["</style.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"],
    "x-hint": "1",
  };

  test("writeEarlyHints: a 103 with the Link fields before the 200, and its callback runs", async () => {
    let called = false;
    route = (_req, res) => {
      res.writeEarlyHints(hints, () => {
        called = true;
        res.end("final");
      });
    };
    const reply = await raw(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 10_000);
    assert.ok(
      reply.startsWith(
        "HTTP/1.1 103 Early Hints\r\n" +
          "Link: </style.css>; rel=preload; as=style, </app.js>; rel=preload; as=script\r\n" +
          "x-hint: 1\r\n\r\nHTTP/1.1 200 OK\r\n",
      ),
      reply,
    );
    assert.ok(reply.endsWith("\r\n\r\nfinal"), reply);
    assert.equal(called, true);
  });

  test("writeProcessing: a 102 before the final response", async () => {
    route = (_req, res) => {
      res.writeProcessing();
      res.end("done");
    };
    const reply = await raw(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 10_000);
    assert.ok(reply.startsWith("HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\n"), reply);
  });

  test("writeEarlyHints to an HTTP/1.0 client sends no 1xx (RFC 9110 §15.2)", async () => {
    route = (_req, res) => {
      res.writeEarlyHints(hints);
      res.end("final");
    };
    const reply = await raw(port, "GET / HTTP/1.0\r\n\r\n", 10_000);
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(reply, /103/);
  });

  test("writeEarlyHints: a Link with CRLF throws as in node; after the head it sends nothing", async () => {
    route = (_req, res) => {
      try {
        res.writeEarlyHints({ link: "</a>; rel=preload\r\nX-Injected: 1" });
      } catch (err) {
        errors.push((err as NodeJS.ErrnoException).code ?? "thrown");
      }
      res.write("body ");
      res.writeEarlyHints(hints);
      res.end("end");
    };
    const reply = await raw(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 10_000);
    assert.deepEqual(errors, ["ERR_INVALID_CHAR"]);
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(reply, /X-Injected|103/);
  });

  test("addTrailers on a chunked body: the trailer section on the wire and in node's client", async () => {
    route = (_req, res) => {
      res.setHeader("Trailer", "X-Checksum, X-Count");
      res.write("first ");
      res.addTrailers({ "X-Checksum": "abc123", "X-Count": "2" });
      res.end("second");
    };
    const reply = await raw(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 10_000);
    assert.match(reply, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.match(reply, /\r\nTrailer: X-Checksum, X-Count\r\n/);
    assert.ok(
      reply.endsWith("\r\n\r\n6\r\nfirst \r\n6\r\nsecond\r\n0\r\nX-Checksum: abc123\r\nX-Count: 2\r\n\r\n"),
      reply,
    );

    const { body, trailers } = await new Promise<{ body: string; trailers: NodeJS.Dict<string> }>(
      (resolve, reject) => {
        get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (body += d));
          res.on("end", () => resolve({ body, trailers: res.trailers }));
        }).on("error", reject);
      },
    );
    assert.equal(body, "first second");
    assert.deepEqual({ ...trailers }, { "x-checksum": "abc123", "x-count": "2" });
  });

  test("addTrailers with the whole body in end(): chunked when a Trailer header announces them (node's rule)", async () => {
    route = (_req, res) => {
      res.setHeader("Trailer", "X-Sum");
      res.addTrailers([["X-Sum", "42"]]);
      res.end("all at once");
    };
    const reply = await raw(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 10_000);
    assert.match(reply, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.ok(reply.endsWith("\r\n\r\nb\r\nall at once\r\n0\r\nX-Sum: 42\r\n\r\n"), reply);
  });

  test("trailers are dropped where nothing can carry them: Content-Length, no Trailer header, HTTP/1.0", async () => {
    route = (req, res) => {
      if (req.url === "/length") res.setHeader("Content-Length", "4");
      if (req.url === "/stream") res.write("stre");
      res.addTrailers({ "X-Lost": "1" });
      res.end(req.url === "/stream" ? "am" : "body");
    };
    const length = await raw(port, "GET /length HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 10_000);
    assert.match(length, /\r\nContent-Length: 4\r\n/);
    assert.ok(length.endsWith("\r\n\r\nbody"), length);
    const whole = await raw(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 10_000);
    assert.match(whole, /\r\nContent-Length: 4\r\n/);
    assert.ok(whole.endsWith("\r\n\r\nbody"), whole);
    const old = await raw(port, "GET /stream HTTP/1.0\r\n\r\n", 10_000);
    assert.doesNotMatch(old, /chunked|X-Lost/i);
    assert.ok(old.endsWith("\r\n\r\nstream"), old);
  });

  test("a trailer that frames the message is refused: the connection is dropped, no last chunk", async () => {
    route = (_req, res) => {
      res.write("part");
      res.addTrailers({ "Content-Length": "4" });
      res.end();
    };
    const reply = await raw(port, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 10_000);
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n4\r\npart\r\n$/);
    assert.doesNotMatch(reply, /\r\n0\r\n/);
  });
});
