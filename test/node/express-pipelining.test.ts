/**
 * Pipelined requests to an Express 5 app on tsgi: one raw socket sends 20
 * requests (GET, HEAD, POST with JSON, urlencoded and chunked bodies) in
 * one stream cut into odd-sized pieces; the responses come back in request
 * order with the right bodies (RFC 9112 §9.3.2), and the connection closes
 * after the last one, which asked for it.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import express from "express";
import { serve } from "../../src/serve.ts";
import type { Server } from "../../src/server/server.ts";

interface Sent {
  method: string;
  bytes: string;
  /** The body the response must carry (empty for HEAD). */
  expect: string;
}

/** The i-th request of the pipeline and the body its response must have. */
function requestFor(i: number, last: boolean): Sent {
  const close = last ? "Connection: close\r\n" : "";
  switch (i % 5) {
    case 0:
      return {
        method: "GET",
        bytes: `GET /items/${i}?n=${i * 3} HTTP/1.1\r\nHost: t\r\n${close}\r\n`,
        expect: JSON.stringify({ item: String(i), n: String(i * 3) }),
      };
    case 1: {
      const body = JSON.stringify({ i, pad: "x".repeat(i * 37) });
      return {
        method: "POST",
        bytes: `POST /json/${i} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${close}\r\n${body}`,
        expect: JSON.stringify({ at: String(i), got: { i, pad: "x".repeat(i * 37) } }),
      };
    }
    case 2: {
      const body = new URLSearchParams({ name: `caller ${i}`, note: "a&b=c" }).toString();
      return {
        method: "POST",
        bytes: `POST /form/${i} HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n${close}\r\n${body}`,
        expect: `form ${i}: caller ${i} / a&b=c`,
      };
    }
    case 3: {
      // Chunked, in three chunks, with a trailer section.
      const doc = JSON.stringify({ chunked: i });
      const a = doc.slice(0, 3);
      const b = doc.slice(3, 9);
      const c = doc.slice(9);
      const chunks = [a, b, c].map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join("");
      return {
        method: "POST",
        bytes: `POST /json/${i} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n${close}\r\n${chunks}0\r\nX-Trailer: t\r\n\r\n`,
        expect: JSON.stringify({ at: String(i), got: { chunked: i } }),
      };
    }
    default:
      return { method: "HEAD", bytes: `HEAD /items/${i} HTTP/1.1\r\nHost: t\r\n${close}\r\n`, expect: "" };
  }
}

interface Parsed {
  status: number;
  head: string;
  body: string;
}

/** Splits a stream of Content-Length framed responses; `methods` says which were HEAD. */
function parseResponses(data: Buffer, methods: string[]): Parsed[] {
  const out: Parsed[] = [];
  let pos = 0;
  for (const method of methods) {
    const end = data.indexOf("\r\n\r\n", pos);
    assert.notEqual(end, -1, `response ${out.length} has a complete head`);
    const head = data.toString("latin1", pos, end);
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? Number.NaN);
    assert.ok(Number.isInteger(length), `response ${out.length} has a Content-Length`);
    const bodyLength = method === "HEAD" ? 0 : length;
    out.push({ status, head, body: data.toString("utf8", end + 4, end + 4 + bodyLength) });
    pos = end + 4 + bodyLength;
  }
  assert.equal(pos, data.length, "nothing after the last response");
  return out;
}

describe("pipelined requests to an Express app", () => {
  let server: Server;
  let port: number;

  before(async () => {
    const app = express();
    app.get("/items/:id", (req, res) => {
      res.json({ item: req.params.id, n: req.query.n });
    });
    app.post("/json/:at", express.json(), (req, res) => {
      res.json({ at: req.params.at, got: req.body });
    });
    app.post("/form/:at", express.urlencoded({ extended: false }), (req, res) => {
      const body = req.body as { name: string; note: string };
      res.type("text").send(`form ${req.params.at}: ${body.name} / ${body.note}`);
    });
    server = await serve(app, { port: 0, accessLog: false, logLevel: "critical" });
    port = server.address.port;
  });
  after(() => server.close(200));

  test("20 requests in odd-sized pieces: 20 responses in order, right bodies, then close", async () => {
    const count = 20;
    const sent = Array.from({ length: count }, (_, i) => requestFor(i, i === count - 1));
    const stream = Buffer.from(sent.map((s) => s.bytes).join(""), "latin1");
    const socket = connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    await once(socket, "connect");
    const chunks: Buffer[] = [];
    socket.on("data", (d: Buffer) => chunks.push(d));
    const closed = once(socket, "close");
    // Pieces of 1, 7, 13, 31, 97, 211 bytes in turn: cuts fall inside request
    // lines, field lines, chunk sizes and bodies. Each waits for its write to flush.
    const sizes = [1, 7, 13, 31, 97, 211];
    let pos = 0;
    for (let k = 0; pos < stream.length; k++) {
      const piece = stream.subarray(pos, pos + sizes[k % sizes.length]!);
      pos += piece.length;
      await new Promise<void>((resolve, reject) =>
        socket.write(piece, (err) => (err ? reject(err) : resolve())),
      );
    }
    await closed;
    const responses = parseResponses(
      Buffer.concat(chunks),
      sent.map((s) => s.method),
    );
    assert.equal(responses.length, count);
    for (const [i, r] of responses.entries()) {
      assert.equal(r.status, 200, `response ${i}: ${r.head}`);
      assert.equal(r.body, sent[i]!.expect, `response ${i} answers request ${i}`);
    }
    assert.match(responses.at(-1)!.head, /\r\nConnection: close/i);
  });
});
