/**
 * The Fetch gateway over real sockets: the Request an app receives (method,
 * URL, headers, connection info), 100-continue, the response head written
 * from the returned Response, how app errors and contract violations turn
 * into 500s or closed connections, and picking the gateway by interface.
 * Bodies are in bodies.test.ts, streaming and disconnects in
 * streaming.test.ts, memory bounds in memory.test.ts.
 */

import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import type { FetchInfo } from "../../src/gateways/fetch/index.ts";
import { NativeResponse as nativeResponse } from "../../src/gateways/fetch/light-response.ts";
import { detectInterface, NotAnAppError } from "../../src/gateways/select.ts";
import { startServer } from "../helpers.ts";
import {
  assertServes,
  Client,
  count,
  encoder,
  type FetchServer,
  get,
  header,
  post,
  roundTrip,
  serveFetch,
  show,
  waitFor,
} from "./support.ts";

const NativeResponse = nativeResponse();

// ---- the request ------------------------------------------------------------------

describe("request", () => {
  let srv: FetchServer;
  let seen: { request: Request; info: FetchInfo } | null = null;
  before(async () => {
    srv = await serveFetch((request, info) => {
      seen = { request, info };
      return new Response("ok");
    });
  });
  after(() => srv.close());

  /** Sends `bytes`, expects a 200 and returns what the app received. */
  async function receive(bytes: string | Uint8Array): Promise<{ request: Request; info: FetchInfo }> {
    seen = null;
    const res = await roundTrip(srv.port, bytes);
    assert.equal(res.status, 200, show(res));
    assert.notEqual(seen, null);
    return seen!;
  }

  test("method and URL of an origin-form target with Host", async () => {
    const { request } = await receive(get("/a/b?x=1&y=%20", "").replace("Host: t", "Host: example.com:8080"));
    assert.equal(request.method, "GET");
    assert.equal(request.url, "http://example.com:8080/a/b?x=1&y=%20");
    const url = new URL(request.url);
    assert.equal(url.pathname, "/a/b");
    assert.equal(url.searchParams.get("y"), " ");
  });

  test("other methods are passed through", async () => {
    for (const method of ["DELETE", "PATCH", "OPTIONS", "PUT"]) {
      const { request } = await receive(`${method} /m HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n`);
      assert.equal(request.method, method);
      assert.equal(request.url, "http://t/m");
    }
  });

  test("an absolute-form target is the URL", async () => {
    const { request } = await receive(
      "GET http://other.example:81/p/q?r=1 HTTP/1.1\r\nHost: other.example:81\r\n\r\n",
    );
    assert.equal(request.url, "http://other.example:81/p/q?r=1");
  });

  test("HTTP/1.0 without Host: the URL names the local address", async () => {
    const { request } = await receive("GET /old?x HTTP/1.0\r\n\r\n");
    assert.equal(request.url, `http://127.0.0.1:${srv.port}/old?x`);
  });

  test("headers: case-insensitive, repeated fields combined as Headers does", async () => {
    const { request } = await receive(
      "GET / HTTP/1.1\r\nHost: t\r\nX-Multi: a\r\nx-multi: b\r\nAccept: text/html\r\n" +
        "Cookie: a=1\r\nCookie: b=2\r\nX-Empty:\r\n\r\n",
    );
    const headers = request.headers;
    assert.ok(headers instanceof Headers);
    assert.equal(headers.get("X-MULTI"), "a, b");
    assert.equal(headers.get("accept"), "text/html");
    assert.equal(headers.get("host"), "t");
    assert.equal(headers.get("x-empty"), "");
    assert.equal(headers.get("absent"), null);
    const reference = new Headers([
      ["Cookie", "a=1"],
      ["Cookie", "b=2"],
    ]);
    assert.equal(headers.get("cookie"), reference.get("cookie"));
    assert.deepEqual(
      [...headers.keys()].filter((k) => k.startsWith("x-")),
      ["x-empty", "x-multi"],
    );
  });

  test("the request is a Request; its signal is not aborted", async () => {
    const { request } = await receive(get("/"));
    assert.ok(request instanceof Request);
    assert.ok(request.signal instanceof AbortSignal);
    assert.equal(request.signal.aborted, false);
    assert.equal(typeof request.clone, "function");
  });

  test("info: addresses and ports of both ends, no TLS", async () => {
    const client = await Client.open(srv.port);
    try {
      seen = null;
      client.send(get("/info"));
      const res = await client.read();
      assert.equal(res.status, 200);
      const info = seen!.info;
      assert.equal(info.remoteAddress, "127.0.0.1");
      assert.equal(info.remotePort, client.socket.localPort);
      assert.equal(info.localAddress, "127.0.0.1");
      assert.equal(info.localPort, srv.port);
      assert.equal(info.tls, false);
    } finally {
      client.destroy();
    }
  });
});

test("HTTP/1.0 without Host on an IPv6 listener: the URL brackets the address", async (t) => {
  let url: string | null = null;
  let srv: FetchServer;
  try {
    srv = await serveFetch(
      (request) => {
        url = request.url;
        return new Response("ok");
      },
      { host: "::1" },
    );
  } catch {
    t.skip("no IPv6 loopback here");
    return;
  }
  try {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(srv.port, "::1", () => socket.write("GET /six?q=1 HTTP/1.0\r\n\r\n"));
      let data = "";
      socket.on("data", (d) => (data += d.toString("latin1")));
      socket.on("close", () => resolve(data));
      socket.on("error", reject);
    });
    assert.match(text, /^HTTP\/1\.1 200 /, text);
    assert.equal(url, `http://[::1]:${srv.port}/six?q=1`);
  } finally {
    await srv.close();
  }
});

// ---- 100-continue -----------------------------------------------------------------

describe("100-continue", () => {
  let srv: FetchServer;
  before(async () => {
    srv = await serveFetch(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/ignore") return new Response("not reading");
      if (path === "/touch") {
        // Members the facade delegates build the real Request; that alone must not ask for the body.
        return new Response(`mode=${request.mode} cache=${request.cache}`);
      }
      if (path === "/stream") {
        let size = 0;
        for await (const chunk of request.body!) size += chunk.length;
        return new Response(`streamed ${size}`);
      }
      return new Response(`read ${await request.text()}`);
    });
  });
  after(() => srv.close());

  const expect100 = (path: string) =>
    `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`;

  for (const path of ["/ignore", "/touch"]) {
    test(`an app that never reads the body (${path}): no 100, and Connection: close`, async () => {
      const client = await Client.open(srv.port);
      try {
        client.send(expect100(path));
        const res = await client.read();
        assert.equal(res.status, 200, show(res));
        assert.equal(header(res, "connection"), "close");
        assert.doesNotMatch(res.raw.toString("latin1"), /100 Continue/);
        assert.equal(await client.closedWithin(2000), true, "closed after the response");
        assert.equal(client.text(), "");
      } finally {
        client.destroy();
      }
    });
  }

  for (const path of ["/text", "/stream"]) {
    test(`an app that reads the body (${path}): 100, then the response; keep-alive`, async () => {
      const client = await Client.open(srv.port);
      try {
        client.send(expect100(path));
        const interim = await client.read();
        assert.equal(interim.status, 100);
        client.send("hello");
        const res = await client.read();
        assert.equal(res.status, 200, show(res));
        assert.equal(res.body.toString(), path === "/text" ? "read hello" : "streamed 5");
        assert.equal(header(res, "connection"), undefined);
        client.send(post("/text", "again"));
        assert.equal((await client.read()).body.toString(), "read again");
      } finally {
        client.destroy();
      }
    });
  }
});

// ---- the response head ------------------------------------------------------------

describe("response head", () => {
  let srv: FetchServer;
  const cancelled: string[] = [];
  before(async () => {
    srv = await serveFetch((request) => {
      const path = new URL(request.url).pathname;
      switch (path) {
        case "/ok":
          return new Response("ok");
        case "/reason":
          return new Response("made", { status: 201, statusText: "Made It" });
        case "/reason-native":
          return new NativeResponse("queued", { status: 202, statusText: "Queued For Later" });
        case "/teapot":
          return new Response(null, { status: 418 });
        case "/headers":
          return new Response("h", {
            headers: { "X-Custom": "one", "Content-Type": "text/x-custom", "x-spaced": "  v  " },
          });
        case "/cookies-light": {
          const headers = new Headers();
          headers.append("Set-Cookie", "a=1; Path=/");
          headers.append("Set-Cookie", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
          headers.append("X-List", "p");
          headers.append("X-List", "q");
          return new Response("c", { headers });
        }
        case "/cookies-pairs":
          return new Response("c", {
            headers: [
              ["set-cookie", "a=1"],
              ["set-cookie", "b=2"],
            ],
          });
        case "/cookies-native": {
          const res = new NativeResponse(stream(["c"]), { headers: [["set-cookie", "a=1"]] });
          res.headers.append("set-cookie", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
          return res;
        }
        case "/json":
          return Response.json({ a: [1, 2], b: "ü" }, { status: 201, headers: { "x-j": "1" } });
        case "/redirect":
          return Response.redirect("http://t/elsewhere?x=1", 301);
        case "/redirect-default":
          // Without a status (the lib typing insists on one).
          return Reflect.apply(Response.redirect, Response, [new URL("http://t/found")]) as Response;
        case "/mutated": {
          const res = new Response("m", { headers: { "x-initial": "1" } });
          res.headers.set("x-late", "2");
          res.headers.set("content-type", "application/x-late");
          res.headers.append("set-cookie", "late=1");
          res.headers.delete("x-initial");
          return res;
        }
        case "/mutated-native": {
          const res = new NativeResponse(stream(["m", "n"]));
          res.headers.set("x-late", "2");
          return res;
        }
        case "/no-content":
          return new Response(null, { status: 204, headers: { "x-n": "1" } });
        case "/not-modified":
          return new Response(null, { status: 304, headers: { etag: '"v1"' } });
        case "/endless":
          return new Response(
            new ReadableStream<Uint8Array>({
              async pull(controller) {
                await new Promise((r) => setTimeout(r, 10));
                controller.enqueue(encoder.encode("data: tick\n\n"));
              },
              cancel() {
                cancelled.push(path);
              },
            }),
            { headers: { "content-type": "text/event-stream" } },
          );
        case "/streamed":
          return new Response(stream(["a", "b", "c"], 5));
        default:
          return new Response("not found", { status: 404 });
      }
    });
  });
  after(() => srv.close());

  test("status and a custom reason phrase are sent as given", async () => {
    const res = await roundTrip(srv.port, get("/reason"));
    assert.match(res.raw.toString("latin1"), /^HTTP\/1\.1 201 Made It\r\n/);
    assert.equal(res.body.toString(), "made");
    const native = await roundTrip(srv.port, get("/reason-native"));
    assert.match(native.raw.toString("latin1"), /^HTTP\/1\.1 202 Queued For Later\r\n/);
    assert.equal(native.body.toString(), "queued");
    const teapot = await roundTrip(srv.port, get("/teapot"));
    assert.equal(teapot.status, 418);
    assert.equal(header(teapot, "content-length"), "0");
  });

  test("headers from a plain object; a string body gets text/plain by default", async () => {
    const res = await roundTrip(srv.port, get("/headers"));
    assert.equal(header(res, "x-custom"), "one");
    assert.equal(header(res, "content-type"), "text/x-custom");
    assert.equal(header(res, "x-spaced"), "v");
    assert.equal(header(res, "content-length"), "1");
    const plain = await roundTrip(srv.port, get("/ok"));
    assert.equal(header(plain, "content-type"), "text/plain;charset=UTF-8");
  });

  for (const path of ["/cookies-light", "/cookies-pairs", "/cookies-native"]) {
    test(`several Set-Cookie stay separate lines (${path})`, async () => {
      const res = await roundTrip(srv.port, get(path));
      assert.equal(res.status, 200, show(res));
      const cookies = res.headers.filter(([n]) => n.toLowerCase() === "set-cookie").map(([, v]) => v);
      assert.equal(cookies.length, 2, show(res));
      assert.match(cookies[0]!, /^a=1/);
      assert.match(cookies[1]!, /^b=2/);
      if (path !== "/cookies-pairs") assert.match(cookies[1]!, /Expires=Wed, 21 Oct 2015 07:28:00 GMT$/);
      if (path === "/cookies-light") assert.equal(header(res, "x-list"), "p, q");
    });
  }

  test("Response.json(): JSON body, application/json, Content-Length, status and headers", async () => {
    const res = await roundTrip(srv.port, get("/json"));
    assert.equal(res.status, 201);
    assert.equal(header(res, "content-type"), "application/json");
    assert.equal(header(res, "x-j"), "1");
    assert.equal(res.framing, "length");
    assert.deepEqual(JSON.parse(res.body.toString("utf8")), { a: [1, 2], b: "ü" });
    assert.equal(Number(header(res, "content-length")), Buffer.byteLength('{"a":[1,2],"b":"ü"}'));
  });

  test("Response.redirect(): status, Location, empty body", async () => {
    const res = await roundTrip(srv.port, get("/redirect"));
    assert.equal(res.status, 301);
    assert.equal(header(res, "location"), "http://t/elsewhere?x=1");
    assert.equal(res.body.length, 0);
    assert.equal(header(res, "content-length"), "0");
    const found = await roundTrip(srv.port, get("/redirect-default"));
    assert.equal(found.status, 302);
    assert.equal(header(found, "location"), "http://t/found");
  });

  test("headers changed after the Response was built are the ones sent", async () => {
    const res = await roundTrip(srv.port, get("/mutated"));
    assert.equal(header(res, "x-late"), "2");
    assert.equal(header(res, "content-type"), "application/x-late");
    assert.equal(header(res, "set-cookie"), "late=1");
    assert.equal(header(res, "x-initial"), undefined);
    assert.equal(res.body.toString(), "m");
    const native = await roundTrip(srv.port, get("/mutated-native"));
    assert.equal(header(native, "x-late"), "2");
    assert.equal(native.body.toString(), "mn");
  });

  test("HEAD: the GET's headers (Content-Length included), no body; the connection stays usable", async () => {
    const client = await Client.open(srv.port);
    try {
      client.send("HEAD /ok HTTP/1.1\r\nHost: t\r\n\r\n");
      const res = await client.read({ head: true });
      assert.equal(res.status, 200);
      assert.equal(header(res, "content-length"), "2");
      client.send("HEAD /streamed HTTP/1.1\r\nHost: t\r\n\r\n");
      const streamed = await client.read({ head: true });
      assert.equal(streamed.status, 200);
      client.send(get("/ok"));
      const next = await client.read();
      assert.equal(next.body.toString(), "ok", "no body bytes were sent for the HEADs");
    } finally {
      client.destroy();
    }
  });

  test("HEAD of an endless stream: the response completes and the stream is cancelled", async () => {
    const client = await Client.open(srv.port);
    try {
      client.send("HEAD /endless HTTP/1.1\r\nHost: t\r\n\r\n");
      const res = await client.read({ head: true });
      assert.equal(res.status, 200);
      assert.equal(header(res, "content-type"), "text/event-stream");
      client.send(get("/ok"));
      const next = await client.read({ timeoutMs: 1000 });
      assert.equal(next.body.toString(), "ok");
      await waitFor(() => cancelled.includes("/endless"), "the stream to be cancelled");
    } finally {
      client.destroy();
    }
  });

  test("204 and 304: no body, no Content-Length in the 204; keep-alive", async () => {
    const client = await Client.open(srv.port);
    try {
      client.send(get("/no-content"));
      const res = await client.read();
      assert.equal(res.status, 204);
      assert.equal(header(res, "x-n"), "1");
      assert.equal(header(res, "content-length"), undefined);
      assert.equal(header(res, "transfer-encoding"), undefined);
      client.send(get("/not-modified"));
      const nm = await client.read();
      assert.equal(nm.status, 304);
      assert.equal(header(nm, "etag"), '"v1"');
      client.send(get("/ok"));
      assert.equal((await client.read()).body.toString(), "ok");
    } finally {
      client.destroy();
    }
  });
});

/** A stream of the given strings, `delayMs` apart. */
function stream(parts: string[], delayMs = 0): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i > 0 && delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (i === parts.length) controller.close();
      else controller.enqueue(encoder.encode(parts[i++]!));
    },
  });
}

// ---- errors -----------------------------------------------------------------------

describe("errors", () => {
  let srv: FetchServer;
  before(async () => {
    srv = await serveFetch(async (request) => {
      const path = new URL(request.url).pathname;
      switch (path) {
        case "/ok":
          return new Response("ok");
        case "/throws":
          throw new Error("boom-sync");
        case "/rejects":
          await new Promise((r) => setTimeout(r, 5));
          throw new Error("boom-async");
        case "/undefined":
          return undefined as unknown as Response;
        case "/string":
          return "just text" as unknown as Response;
        case "/object":
          return { status: 200, body: "x" } as unknown as Response;
        case "/null":
          return null as unknown as Response;
        case "/crlf-header":
          return new Response("x", { headers: { "x-a": "v\r\nX-Injected: 1" } });
        case "/crlf-header-pairs":
          return new Response("x", { headers: [["x-a", "v\r\nX-Injected: 1"]] });
        case "/crlf-header-native":
          return new NativeResponse(stream(["x"]), { headers: { "x-a": "v\r\nX-Injected: 1" } });
        case "/crlf-reason":
          return new Response("x", { statusText: "OK\r\nX-Injected: 1" });
        case "/bad-json":
          return Response.json(await request.json());
        case "/fails-midway":
          return new Response(
            new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(encoder.encode("first part;"));
              },
              async pull(controller) {
                await new Promise((r) => setTimeout(r, 20));
                controller.error(new Error("stream broke"));
              },
            }),
          );
        case "/fails-first":
          return new Response(
            new ReadableStream<Uint8Array>({
              pull(controller) {
                controller.error(new Error("stream broke early"));
              },
            }),
          );
        case "/string-chunk":
          return new Response(
            new ReadableStream<unknown>({
              start(controller) {
                controller.enqueue("a string, not bytes");
                controller.close();
              },
            }) as unknown as ReadableStream<Uint8Array>,
          );
        case "/string-chunk-later": {
          let n = 0;
          return new Response(
            new ReadableStream<unknown>({
              async pull(controller) {
                n++;
                if (n > 1) await new Promise((r) => setTimeout(r, 20));
                if (n === 1) controller.enqueue(encoder.encode("bytes first;"));
                else controller.enqueue("then a string");
              },
            }) as unknown as ReadableStream<Uint8Array>,
          );
        }
        default:
          return new Response("not found", { status: 404 });
      }
    });
  });
  after(() => srv.close());

  /** Expects a plain 500 for `path` and the log to name it once; the server serves on. */
  async function expect500(
    path: string,
    logged: RegExp,
    bytes: string | Uint8Array = get(path),
  ): Promise<void> {
    srv.errors.text = "";
    const res = await roundTrip(srv.port, bytes);
    assert.equal(res.status, 500, show(res));
    assert.equal(res.body.toString(), "500 Internal Server Error\n");
    assert.equal(header(res, "content-type"), "text/plain; charset=utf-8");
    assert.doesNotMatch(res.raw.toString("latin1"), /X-Injected/i);
    await waitFor(() => logged.test(srv.errors.text), `a log line matching ${logged}`);
    assert.equal(count(srv.errors.text, "ERROR:"), 1, srv.errors.text);
    assert.match(srv.errors.text, new RegExp(`handling [A-Z]+ ${path}\\b`));
    await assertServes(srv.port);
  }

  test("a handler that throws: 500, logged once", () => expect500("/throws", /boom-sync/));
  test("a handler that rejects: 500, logged once", () => expect500("/rejects", /boom-async/));

  for (const [path, what] of [
    ["/undefined", "undefined"],
    ["/string", "string"],
    ["/object", "object"],
    ["/null", "null"],
  ] as const) {
    test(`a handler returning ${what} instead of a Response: 500 with a clear log`, () =>
      expect500(path, new RegExp(`must return a Response, got ${what}`)));
  }

  // The constructor throws the standard's TypeError in the handler, which the handler lets escape.
  test("a header value with CRLF: 500, nothing injected (plain-object init)", () =>
    expect500("/crlf-header", /is an invalid header value/));
  test("a header value with CRLF: 500, nothing injected (pair-list init)", () =>
    expect500("/crlf-header-pairs", /is an invalid header value/));
  test("a header value with CRLF: 500, nothing injected (undici Headers refuse it)", () =>
    expect500("/crlf-header-native", /TypeError|invalid/i));
  test("a reason phrase with CRLF: 500, nothing injected", () =>
    expect500("/crlf-reason", /Invalid statusText/));
  test("request.json() of invalid JSON: 500", () =>
    expect500("/bad-json", /SyntaxError|JSON/, post("/bad-json", "{nope")));

  test("a body stream failing before its first chunk: 500", () =>
    expect500("/fails-first", /stream broke early/));

  test("a body stream failing midway: the connection is closed, no terminating chunk", async () => {
    srv.errors.text = "";
    const client = await Client.open(srv.port);
    try {
      client.send(get("/fails-midway"));
      assert.equal(await client.closedWithin(2000), true, "connection closed");
      const text = client.text();
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /Transfer-Encoding: chunked\r\n/);
      assert.match(text, /first part;/);
      assert.doesNotMatch(text, /\r\n0\r\n\r\n$/, "no last chunk");
    } finally {
      client.destroy();
    }
    await waitFor(() => /stream broke/.test(srv.errors.text), "the log");
    assert.equal(count(srv.errors.text, "ERROR:"), 1, srv.errors.text);
    await assertServes(srv.port);
  });

  test("a body stream enqueuing a string: 500, logged", () =>
    expect500("/string-chunk", /chunks must be Uint8Array, got string/));

  test("a string enqueued after bytes went out: the connection is closed, logged", async () => {
    srv.errors.text = "";
    const client = await Client.open(srv.port);
    try {
      client.send(get("/string-chunk-later"));
      assert.equal(await client.closedWithin(2000), true, "connection closed");
      assert.match(client.text(), /bytes first;/);
      assert.doesNotMatch(client.text(), /then a string|\r\n0\r\n\r\n$/);
    } finally {
      client.destroy();
    }
    await waitFor(() => /chunks must be Uint8Array/.test(srv.errors.text), "the log");
    await assertServes(srv.port);
  });
});

// ---- picking the gateway ----------------------------------------------------------

describe("interface selection", () => {
  const fetchObject = { fetch: () => new Response("from object") };

  test("detectInterface", () => {
    assert.equal(detectInterface(fetchObject), "fetch");
    assert.equal(detectInterface(fetchObject, "auto"), "fetch");
    assert.equal(detectInterface(fetchObject, "fetch"), "fetch");
    assert.equal(
      detectInterface((_request: Request) => new Response(""), "fetch"),
      "fetch",
    );
    assert.equal(
      detectInterface((_environ: unknown, _startResponse: unknown) => [], "auto"),
      "wsgi",
    );
    assert.throws(() => detectInterface(fetchObject, "wsgi"), NotAnAppError);
    assert.throws(() => detectInterface({}, "fetch"), NotAnAppError);
    assert.throws(() => detectInterface(null, "fetch"), NotAnAppError);
    assert.throws(() => detectInterface({ fetch: "not a function" }, "auto"), NotAnAppError);
    assert.throws(
      () => detectInterface(fetchObject, "wsgi"),
      /expected a function \(environ, startResponse\), got object/,
    );
  });

  test("an async function of up to two parameters is refused as WSGI-style, naming --interface fetch", () => {
    const handler = async (_request: Request) => new Response("");
    const withInfo = async (_request: Request, _info: unknown) => new Response("");
    for (const app of [handler, withInfo, async () => new Response("")]) {
      assert.throws(() => detectInterface(app, "auto"), /looks like a Fetch handler .*--interface fetch/);
      assert.throws(() => detectInterface(app, "wsgi"), /--interface wsgi needs a synchronous function/);
      assert.equal(detectInterface(app, "fetch"), "fetch");
    }
    assert.throws(() => detectInterface(handler), NotAnAppError);
    // Three parameters stay ASGI-style's (scope, receive, send).
    assert.equal(
      detectInterface(async (_s: unknown, _r: unknown, _send: unknown) => {}),
      "asgi",
    );
  });

  test("--interface auto serves an object with fetch() through the Fetch gateway", async () => {
    const { server, port } = await startServer(fetchObject, { interface: "auto" });
    try {
      const res = await roundTrip(port, get("/"));
      assert.equal(res.body.toString(), "from object");
      assert.equal(header(res, "content-type"), "text/plain;charset=UTF-8");
    } finally {
      await server.close();
    }
  });

  test("--interface fetch serves a plain function; `this` of an object app is kept", async () => {
    const fn = await startServer((request: Request) => new Response(`fn ${request.method}`), {
      interface: "fetch",
    });
    const app = {
      greeting: "hi from this",
      fetch(this: { greeting: string }) {
        return new Response(this.greeting);
      },
    };
    const obj = await startServer(app, { interface: "fetch" });
    try {
      assert.equal((await roundTrip(fn.port, get("/"))).body.toString(), "fn GET");
      assert.equal((await roundTrip(obj.port, get("/"))).body.toString(), "hi from this");
    } finally {
      await Promise.all([fn.server.close(), obj.server.close()]);
    }
  });

  test("--interface wsgi with an object app: NotAnAppError, nothing listens", async () => {
    await assert.rejects(startServer(fetchObject, { interface: "wsgi" }), NotAnAppError);
  });
});

// ---- string bodies written with their head as one string ---------------------------

describe("string bodies", () => {
  let srv: FetchServer;
  before(async () => {
    srv = await serveFetch((request) => {
      const path = new URL(request.url).pathname;
      // A Latin-1 header value makes the head non-ASCII: head and body can no longer be one UTF-8 string.
      if (path === "/latin1") return new Response("café €", { headers: { "x-name": "caf\xe9" } });
      return new Response("café € 😀");
    });
  });
  after(() => srv.close());

  test("a non-ASCII string body goes out as UTF-8 with its byte length", async () => {
    const res = await roundTrip(srv.port, get("/"));
    const expected = Buffer.from("café € 😀", "utf8");
    assert.equal(header(res, "content-length"), String(expected.length));
    assert.deepEqual(res.body, expected);
  });

  test("a Latin-1 header value stays one byte while the body is UTF-8", async () => {
    const res = await roundTrip(srv.port, get("/latin1"));
    assert.ok(res.raw.includes(Buffer.from("x-name: caf\xe9\r\n", "latin1")), show(res));
    assert.deepEqual(res.body, Buffer.from("café €", "utf8"));
    assert.equal(header(res, "content-length"), String(Buffer.byteLength("café €")));
  });
});
