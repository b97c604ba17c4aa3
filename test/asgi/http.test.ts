/**
 * The ASGI-style gateway's http scope over real sockets: the scope's keys,
 * request bodies in several `http.request` events, streamed responses with
 * `more_body`, backpressure both ways, `http.disconnect`, and every error
 * rule (500 before the head, a closed connection after it, event order).
 */

import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { ASGIContractError, ASGIDisconnectedError } from "../../src/gateways/asgi/errors.ts";
import type { HTTPScope, Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
import { detectInterface } from "../../src/gateways/select.ts";
import type { Server } from "../../src/server/server.ts";
import { type Capture, startServer } from "../helpers.ts";
import { Client, header, show, sleep } from "../server/client.ts";

const enc = new TextEncoder();
const text = (s: string) => enc.encode(s);
const dec = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/** Resolves once `predicate` holds, polling; rejects after `ms`. */
async function waitFor(predicate: () => boolean, what: string, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function respond(send: Send, status: number, body: string, headers: [string, string][] = []) {
  await send({ type: "http.response.start", status, headers: [["content-type", "text/plain"], ...headers] });
  await send({ type: "http.response.body", body: text(body) });
}

/** Reads the whole request body through receive(), recording each event's size and more_body. */
async function readBody(receive: Receive, log: [number, boolean][]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const event = await receive();
    assert.equal(event.type, "http.request");
    if (event.type !== "http.request") throw new Error("unreachable");
    log.push([event.body.length, event.more_body]);
    parts.push(event.body);
    if (!event.more_body) return Buffer.concat(parts);
  }
}

describe("ASGI http scope", () => {
  let server: Server;
  let port: number;
  let errors: Capture;
  /** What apps recorded, by test. */
  const seen: Record<string, unknown> = {};
  let gate: () => void = () => {};

  before(async () => {
    const app = async (scope: Scope, receive: Receive, send: Send) => {
      if (scope.type !== "http") return;
      const path = scope.path;
      switch (path) {
        case "/scope/é x": {
          const { headers, raw_path, query_string, state, ...rest } = scope;
          const body = JSON.stringify({
            ...rest,
            raw_path: dec(raw_path),
            query_string: dec(query_string),
            headers: headers.map(([n, v]) => [dec(n), dec(v)]),
            headerTypes: headers.every(([n, v]) => n instanceof Uint8Array && v instanceof Uint8Array),
            state,
          });
          return respond(send, 200, body);
        }
        case "/partial": {
          // The client sends half its body and leaves: the pending receive() gets http.disconnect.
          const events: string[] = [];
          for (;;) {
            const event = await receive();
            events.push(event.type === "http.request" ? `request ${event.body.length}` : event.type);
            if (event.type === "http.disconnect") break;
          }
          seen.partial = events;
          return;
        }
        case "/no-read":
          return respond(send, 200, "did not read");
        case "/echo": {
          const log: [number, boolean][] = [];
          const body = await readBody(receive, log);
          seen.echo = log;
          return respond(send, 200, `${body.length}:${dec(body).slice(0, 20)}`);
        }
        case "/awaiting-echo": {
          // Awaits between receive() calls (a disk write, say): the rest of the body must still come.
          let size = 0;
          let sum = 0;
          for (;;) {
            const event = await receive();
            if (event.type !== "http.request") return respond(send, 500, event.type);
            size += event.body.length;
            for (const b of event.body) sum = (sum + b) % 65536;
            if (!event.more_body) break;
            await sleep(20);
          }
          return respond(send, 200, `${size}:${sum}`);
        }
        case "/slow-reader": {
          // Does not read for a while: the server must hold the body back, not buffer it all.
          await sleep(150);
          const log: [number, boolean][] = [];
          const body = await readBody(receive, log);
          seen.slowReader = { events: log.length, size: body.length };
          return respond(send, 200, String(body.length));
        }
        case "/stream": {
          await send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] });
          await send({ type: "http.response.body", body: text("one,"), more_body: true });
          await new Promise<void>((resolve) => {
            gate = resolve;
          });
          await send({ type: "http.response.body", body: text("two,"), more_body: true });
          await send({ type: "http.response.body", body: text("three"), more_body: false });
          return;
        }
        case "/big": {
          const piece = new Uint8Array(64 * 1024).fill(0x61);
          await send({ type: "http.response.start", status: 200, headers: [] });
          let sent = 0;
          seen.bigSent = 0;
          for (let i = 0; i < 128; i++) {
            await send({ type: "http.response.body", body: piece, more_body: true });
            sent += piece.length;
            seen.bigSent = sent;
          }
          await send({ type: "http.response.body" });
          return;
        }
        case "/wait-disconnect": {
          await receive(); // the (empty) body
          await send({ type: "http.response.start", status: 200, headers: [] });
          await send({ type: "http.response.body", body: text("partial"), more_body: true });
          const event = await receive(); // blocks until the client leaves
          seen.disconnect = event.type;
          try {
            await send({ type: "http.response.body", body: text("more"), more_body: true });
          } catch (err) {
            seen.sendAfterDisconnect = err instanceof ASGIDisconnectedError ? err.code : String(err);
          }
          return;
        }
        case "/disconnect-after-response": {
          await respond(send, 200, "done");
          seen.afterResponse = (await receive()).type;
          try {
            await send({ type: "http.response.body", body: text("late") });
          } catch (err) {
            seen.sendAfterComplete = err instanceof ASGIContractError ? err.code : String(err);
          }
          return;
        }
        case "/throw-before":
          throw new Error("boom before");
        case "/throw-after":
          await send({ type: "http.response.start", status: 200, headers: [] });
          await send({ type: "http.response.body", body: text("partial"), more_body: true });
          throw new Error("boom after");
        case "/return-early":
          return;
        case "/return-midway":
          await send({ type: "http.response.start", status: 200, headers: [] });
          await send({ type: "http.response.body", body: text("partial"), more_body: true });
          return;
        case "/order": {
          const errs: string[] = [];
          const attempt = async (f: () => Promise<void>) => {
            try {
              await f();
              errs.push("ok");
            } catch (err) {
              errs.push(err instanceof ASGIContractError ? err.code : String(err));
            }
          };
          await attempt(() => send({ type: "http.response.body", body: text("x") }));
          await attempt(() => send({ type: "websocket.accept" }));
          await attempt(() => send({ type: "http.response.start", status: 200, trailers: true }));
          await attempt(() => send({ type: "http.response.start", status: 200, headers: [["x-a", "1"]] }));
          await attempt(() => send({ type: "http.response.start", status: 200 }));
          await attempt(() => send({ type: "http.response.body", body: "text" as unknown as Uint8Array }));
          seen.order = errs;
          await send({ type: "http.response.body", body: text("fine") });
          return;
        }
        case "/bytes-headers":
          await send({
            type: "http.response.start",
            status: 201,
            headers: [
              [text("x-bytes"), text("yes")],
              ["set-cookie", "a=1"],
              ["set-cookie", "b=2"],
            ],
          });
          await send({ type: "http.response.body", body: text("created") });
          return;
        default:
          return respond(send, 404, "not found");
      }
    };
    ({ server, port, errors } = await startServer(app, { accessLog: false }));
  });

  after(() => server.close());

  test("--interface auto picks asgi for a function of three parameters", () => {
    assert.equal(
      detectInterface(async (_s: unknown, _r: unknown, _t: unknown) => {}),
      "asgi",
    );
    assert.equal(
      detectInterface((_e: unknown, _s: unknown) => []),
      "wsgi",
    );
    assert.equal(detectInterface({ fetch() {} }), "fetch");
    assert.equal(
      detectInterface(() => {}, "asgi"),
      "asgi",
    );
    assert.throws(() => detectInterface({}, "asgi"), { code: "TSGI_ERR_NOT_AN_APP" });
  });

  test("the scope: every key, spec types, headers as lower-cased bytes", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/scope/%C3%A9%20x?a=1&b=%20`, {
      headers: { "X-Custom": "Value" },
    });
    assert.equal(res.status, 200);
    const scope = (await res.json()) as Omit<HTTPScope, "headers" | "raw_path" | "query_string"> & {
      headers: [string, string][];
      raw_path: string;
      query_string: string;
      headerTypes: boolean;
    };
    assert.equal(scope.type, "http");
    assert.deepEqual(scope.asgi, { version: "3.0", spec_version: "2.5" });
    assert.equal(scope.http_version, "1.1");
    assert.equal(scope.method, "GET");
    assert.equal(scope.scheme, "http");
    assert.equal(scope.path, "/scope/é x");
    assert.equal(scope.raw_path, "/scope/%C3%A9%20x");
    assert.equal(scope.query_string, "a=1&b=%20");
    assert.equal(scope.root_path, "");
    assert.deepEqual(scope.client, ["127.0.0.1", scope.client![1]]);
    assert.equal(typeof scope.client![1], "number");
    assert.deepEqual(scope.server, ["127.0.0.1", port]);
    assert.deepEqual(scope.state, {});
    assert.deepEqual(scope.extensions, {});
    assert.ok(scope.headerTypes);
    assert.ok(
      scope.headers.some(([n, v]) => n === "x-custom" && v === "Value"),
      JSON.stringify(scope.headers),
    );
    assert.ok(scope.headers.every(([n]) => n === n.toLowerCase()));
  });

  test("one start and one body: a single write with Content-Length", async () => {
    const client = await Client.open(port);
    try {
      client.send("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n");
      const res = await client.read();
      assert.equal(res.status, 404);
      assert.equal(res.framing, "length");
      assert.equal(header(res, "content-length"), "9");
      assert.equal(res.body.toString(), "not found");
      // Keep-alive: a second request on the same connection.
      client.send("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n");
      assert.equal((await client.read()).status, 404);
    } finally {
      client.destroy();
    }
  });

  test("headers as bytes or strings; repeated fields kept apart", async () => {
    const client = await Client.open(port);
    try {
      client.send("GET /bytes-headers HTTP/1.1\r\nHost: t\r\n\r\n");
      const res = await client.read();
      assert.equal(res.status, 201, show(res));
      assert.equal(header(res, "x-bytes"), "yes");
      assert.deepEqual(
        res.headers.filter(([n]) => n === "set-cookie").map(([, v]) => v),
        ["a=1", "b=2"],
      );
    } finally {
      client.destroy();
    }
  });

  test("a chunked request body arrives in several http.request events, the last with more_body false", async () => {
    const client = await Client.open(port);
    try {
      client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      await sleep(50);
      client.send("6\r\n world\r\n");
      await sleep(50);
      client.send("1\r\n!\r\n0\r\n\r\n");
      const res = await client.read();
      assert.equal(res.body.toString(), "12:hello world!");
      const log = seen.echo as [number, boolean][];
      assert.ok(log.length >= 3, JSON.stringify(log));
      assert.deepEqual(log.at(-1)![1], false);
      assert.ok(log.slice(0, -1).every(([, more]) => more));
      assert.equal(
        log.reduce((n, [size]) => n + size, 0),
        12,
      );
    } finally {
      client.destroy();
    }
  });

  for (const framing of ["content-length", "chunked"] as const) {
    test(`an app awaiting between receive() calls gets all of a 256 KiB ${framing} body sent in four writes`, async () => {
      const size = 256 * 1024;
      const body = Buffer.alloc(size);
      for (let i = 0; i < size; i++) body[i] = (i * 7) % 251;
      let sum = 0;
      for (const b of body) sum = (sum + b) % 65536;
      const quarter = size / 4;
      const pieces = [0, 1, 2, 3].map((i) => body.subarray(i * quarter, (i + 1) * quarter));
      const client = await Client.open(port);
      try {
        if (framing === "chunked") {
          client.send("POST /awaiting-echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
          for (const [i, piece] of pieces.entries()) {
            client.send(`${piece.length.toString(16)}\r\n`);
            client.send(piece);
            client.send(i === 3 ? "\r\n0\r\n\r\n" : "\r\n");
          }
        } else {
          client.send(`POST /awaiting-echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${size}\r\n\r\n`);
          for (const piece of pieces) client.send(piece);
        }
        // Bounds a hang only: the server's --body-timeout is longer than this.
        const res = await client.read({ timeoutMs: 20_000 });
        assert.equal(res.status, 200, show(res));
        assert.equal(res.body.toString(), `${size}:${sum}`);
      } finally {
        client.destroy();
      }
    });
  }

  test("a Content-Length body's last piece carries more_body false; no body gives one empty event", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/echo`, { method: "POST", body: "abc" });
    assert.equal(await res.text(), "3:abc");
    assert.deepEqual(seen.echo, [[3, false]]);
    const empty = await fetch(`http://127.0.0.1:${port}/echo`);
    assert.equal(await empty.text(), "0:");
    assert.deepEqual(seen.echo, [[0, false]]);
  });

  test("the client leaves mid-body: the pending receive() returns http.disconnect", async () => {
    const client = await Client.open(port);
    client.send("POST /partial HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
    await sleep(50);
    client.destroy();
    await waitFor(() => seen.partial !== undefined, "the app to finish");
    assert.deepEqual(seen.partial, ["request 10", "http.disconnect"]);
  });

  test("100 Continue goes out with the first receive(), never to an app that does not read", async () => {
    const expect = (path: string) =>
      `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`;
    const reader = await Client.open(port);
    try {
      reader.send(expect("/echo"));
      const interim = await reader.read();
      assert.equal(interim.status, 100);
      reader.send("hello");
      assert.equal((await reader.read()).body.toString(), "5:hello");
    } finally {
      reader.destroy();
    }
    const nonReader = await Client.open(port);
    try {
      nonReader.send(expect("/no-read"));
      const res = await nonReader.read();
      assert.equal(res.status, 200, show(res));
      assert.equal(res.body.toString(), "did not read");
    } finally {
      nonReader.destroy();
    }
  });

  test("an app that does not read holds the body back; it all arrives once it does", async () => {
    const size = 2 * 1024 * 1024;
    const res = await fetch(`http://127.0.0.1:${port}/slow-reader`, {
      method: "POST",
      body: new Uint8Array(size).fill(0x62),
    });
    assert.equal(await res.text(), String(size));
    const { events } = seen.slowReader as { events: number; size: number };
    // Pieces were coalesced while waiting, but not everything was buffered into one event.
    assert.ok(events > 1, `events: ${events}`);
  });

  test("a streamed response: each more_body piece goes out before the app sends the next", async () => {
    const client = await Client.open(port);
    try {
      client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
      await client.until(() => (client.text().includes("one,") ? true : undefined), 2000, "the first piece");
      assert.match(client.text(), /transfer-encoding: chunked/i);
      assert.doesNotMatch(client.text(), /two,/);
      gate();
      const res = await client.read();
      assert.equal(res.framing, "chunked");
      assert.equal(res.body.toString(), "one,two,three");
    } finally {
      client.destroy();
    }
  });

  test("send() waits for the socket to drain when the client does not read", async () => {
    const socket = connect(port, "127.0.0.1");
    try {
      socket.pause();
      socket.write("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
      await sleep(200);
      const total = 128 * 64 * 1024;
      const sentWhilePaused = seen.bigSent as number;
      assert.ok(
        sentWhilePaused < total,
        `the app sent ${sentWhilePaused} of ${total} to a client that reads nothing`,
      );
      // Now read everything (counting, not parsing: 8 MiB through a parser is slow).
      let received = 0;
      let tail = "";
      await new Promise<void>((resolve) => {
        socket.on("data", (chunk: Buffer) => {
          received += chunk.length;
          tail = (tail + chunk.toString("latin1", Math.max(0, chunk.length - 16))).slice(-16);
          if (tail.endsWith("\r\n0\r\n\r\n")) resolve();
        });
        socket.resume();
      });
      assert.ok(received > total, `received ${received}`);
      assert.equal(seen.bigSent, total);
    } finally {
      socket.destroy();
    }
  });

  test("http.disconnect: receive() after the body waits until the client leaves; send() then raises", async () => {
    const client = await Client.open(port);
    client.send("GET /wait-disconnect HTTP/1.1\r\nHost: t\r\n\r\n");
    await client.until(() => (client.text().includes("partial") ? true : undefined), 2000, "the first piece");
    await sleep(30);
    assert.equal(seen.disconnect, undefined, "receive() must block while the client is there");
    client.destroy();
    await waitFor(() => seen.sendAfterDisconnect !== undefined, "the app to finish");
    assert.equal(seen.disconnect, "http.disconnect");
    assert.equal(seen.sendAfterDisconnect, "TSGI_ERR_ASGI_DISCONNECTED");
  });

  test("receive() after a complete response gives http.disconnect; send() then is a contract error", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/disconnect-after-response`);
    assert.equal(await res.text(), "done");
    await waitFor(() => seen.sendAfterComplete !== undefined, "the app to finish");
    assert.equal(seen.afterResponse, "http.disconnect");
    assert.equal(seen.sendAfterComplete, "TSGI_ERR_ASGI_CONTRACT");
  });

  test("events out of order are ASGIContractErrors the app can catch", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/order`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-a"), "1");
    assert.equal(await res.text(), "fine");
    assert.deepEqual(seen.order, [
      "TSGI_ERR_ASGI_CONTRACT", // body before start
      "TSGI_ERR_ASGI_CONTRACT", // an event of another scope
      "TSGI_ERR_ASGI_CONTRACT", // trailers: true
      "ok",
      "TSGI_ERR_ASGI_CONTRACT", // start twice
      "TSGI_ERR_ASGI_CONTRACT", // a string body
    ]);
  });

  test("an exception before the response: 500, logged", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/throw-before`);
    assert.equal(res.status, 500);
    await res.text();
    assert.match(errors.text, /boom before/);
  });

  test("an exception after the head: the connection closes with the body cut short", async () => {
    const client = await Client.open(port);
    try {
      client.send("GET /throw-after HTTP/1.1\r\nHost: t\r\n\r\n");
      assert.ok(await client.closedWithin(2000));
      assert.match(client.text(), /partial/);
      assert.doesNotMatch(
        client.text(),
        /\r\n0\r\n\r\n$/,
        "no last chunk: the client must see the truncation",
      );
      await waitFor(() => errors.text.includes("boom after"), "the log line");
    } finally {
      client.destroy();
    }
  });

  test("returning without a response: 500; returning mid-body: the connection closes (uvicorn)", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/return-early`);
    assert.equal(res.status, 500);
    await res.text();
    assert.match(errors.text, /returned without sending a response/);

    const client = await Client.open(port);
    try {
      client.send("GET /return-midway HTTP/1.1\r\nHost: t\r\n\r\n");
      assert.ok(await client.closedWithin(2000));
      assert.match(client.text(), /partial/);
      assert.match(errors.text, /returned without completing the response/);
    } finally {
      client.destroy();
    }
  });

  test("HEAD gets the head without the body", async () => {
    const client = await Client.open(port);
    try {
      client.send("HEAD /nothing HTTP/1.1\r\nHost: t\r\n\r\n");
      const res = await client.read({ head: true });
      assert.equal(res.status, 404);
      assert.equal(res.body.length, 0);
      assert.equal(await client.quietFor(50), "");
    } finally {
      client.destroy();
    }
  });
});

describe("ASGI http scope limits", () => {
  test("a body over --max-body-size: the server answers 413 and receive() gives http.disconnect", async () => {
    let seen: string[] = [];
    const app = async (_scope: Scope, receive: Receive, send: Send) => {
      const events: string[] = [];
      for (;;) {
        const event = await receive();
        events.push(event.type);
        if (event.type !== "http.request" || !event.more_body) break;
      }
      seen = events;
      await send({ type: "http.response.start", status: 200 }).catch((err: { code: string }) =>
        events.push(err.code),
      );
    };
    const { server, port } = await startServer(app, { accessLog: false, limits: { maxBodySize: 16 } });
    try {
      const client = await Client.open(port);
      client.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n");
      await sleep(30);
      client.send("10\r\n0123456789abcdef\r\n0\r\n\r\n");
      const res = await client.read();
      assert.equal(res.status, 413);
      client.destroy();
      await waitFor(() => seen.includes("TSGI_ERR_ASGI_DISCONNECTED"), "the app to finish");
      assert.deepEqual(seen.slice(-2), ["http.disconnect", "TSGI_ERR_ASGI_DISCONNECTED"]);
    } finally {
      await server.close();
    }
  });
});
