/**
 * The Fetch objects tsgi hands apps and takes back behave like the standard
 * ones (issue 13, items 2–6), over real sockets with the real middleware:
 * `new Response(body, otherResponse)` (hono/pretty-json), `new Request(request)`,
 * `fetch(request)` to a second local server (a proxying handler),
 * `request.clone()`, a Response of the `undici` package, a Hono WebSocket
 * route behind `cors()`, and the construction errors the standard gives.
 */

import assert from "node:assert/strict";
import { createServer, type Server as NodeServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Hono } from "hono";
import { cors } from "hono/cors";
import { prettyJSON } from "hono/pretty-json";
import { proxy } from "hono/proxy";
import * as undici from "undici";
import WebSocket from "ws";
import { upgradeWebSocket } from "../../src/adapters/hono.ts";
import { LightResponse, NativeResponse as nativeResponse } from "../../src/gateways/fetch/light-response.ts";
import { type FetchServer, serveFetch } from "./support.ts";

const NativeResponse = nativeResponse();

/** A second local server (node:http) that echoes what it received as JSON. */
async function startEcho(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: NodeServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.setHeader("x-echo", "1");
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("new Response(body, otherResponse) keeps status and headers (item 2)", () => {
  let s: FetchServer;
  before(async () => {
    const app = new Hono();
    app.use(prettyJSON());
    app.get("/missing", (c) => c.json({ error: "not found" }, 404));
    app.get("/created", (c) => {
      c.header("X-Custom", "yes");
      return c.json({ id: 7 }, 201);
    });
    app.get("/copy", () => {
      const first = new Response("a", { status: 418, statusText: "Teapot", headers: { "X-A": "1" } });
      return new Response("b", first);
    });
    s = await serveFetch(app);
  });
  after(() => s.close());

  test("hono/pretty-json keeps a 404 and its JSON type", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/missing?pretty`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(await res.text(), '{\n  "error": "not found"\n}');
  });

  test("hono/pretty-json keeps a 201 and a custom header", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/created?pretty`);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("x-custom"), "yes");
    assert.equal(await res.text(), '{\n  "id": 7\n}');
  });

  test("a light Response as the init of another", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/copy`);
    assert.equal(res.status, 418);
    assert.equal(res.statusText, "Teapot");
    assert.equal(res.headers.get("x-a"), "1");
    assert.equal(await res.text(), "b");
  });
});

describe("the Request an app receives works where undici needs its own (item 3)", () => {
  let s: FetchServer;
  let echo: { url: string; close: () => Promise<void> };
  before(async () => {
    echo = await startEcho();
    s = await serveFetch(async (request: Request) => {
      const path = new URL(request.url).pathname;
      if (path === "/proxy") {
        // A proxying handler: forward the request itself.
        return fetch(new Request(`${echo.url}/upstream`, request));
      }
      if (path === "/forward") return fetch(request.url.replace(/^http:\/\/[^/]+/, echo.url), request);
      if (path === "/fetch-request") {
        // fetch(request) as is: the target is the request's own URL, so point Host at the echo server.
        return fetch(request);
      }
      if (path === "/copy") {
        const copy = new Request(request);
        return Response.json({ method: copy.method, body: await copy.text(), used: request.bodyUsed });
      }
      if (path === "/clone") {
        const clone = request.clone();
        return Response.json({ a: await clone.text(), b: await request.text() });
      }
      return new Response("?", { status: 404 });
    });
  });
  after(async () => {
    await s.close();
    await echo.close();
  });

  test("new Request(request) copies method, body and headers", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/copy`, { method: "PUT", body: "payload" });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { method: "PUT", body: "payload", used: true });
  });

  test("request.clone() reads the body twice", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/clone`, { method: "POST", body: "twice" });
    assert.deepEqual(await res.json(), { a: "twice", b: "twice" });
  });

  test("a proxy forwards the request with fetch(new Request(url, request))", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/proxy?q=1`, {
      method: "POST",
      body: "forwarded",
      headers: { "x-client": "c1" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-echo"), "1");
    const seen = (await res.json()) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    };
    assert.equal(seen.method, "POST");
    assert.equal(seen.url, "/upstream");
    assert.equal(seen.headers["x-client"], "c1");
    assert.equal(seen.body, "forwarded");
  });

  test("fetch(url, request) uses the request as init", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/forward?x=2`, {
      method: "PATCH",
      body: "init",
      headers: { "x-client": "c2" },
    });
    const seen = (await res.json()) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    };
    assert.deepEqual(
      [seen.method, seen.url, seen.headers["x-client"], seen.body],
      ["PATCH", "/forward?x=2", "c2", "init"],
    );
  });

  test("fetch(request) sends the request itself", async () => {
    // The request's URL names the echo server through its Host header.
    const host = new URL(echo.url).host;
    const res = await undici.request(`http://127.0.0.1:${s.port}/fetch-request`, {
      method: "POST",
      body: "itself",
      headers: { host, "x-client": "c3" },
    });
    const seen = (await res.body.json()) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    };
    assert.equal(res.statusCode, 200);
    assert.deepEqual(
      [seen.method, seen.url, seen.headers["x-client"], seen.body],
      ["POST", "/fetch-request", "c3", "itself"],
    );
  });
});

describe("hono/proxy forwards the request it is given", () => {
  let s: FetchServer;
  let echo: { url: string; close: () => Promise<void> };
  before(async () => {
    echo = await startEcho();
    const app = new Hono();
    app.all("/p/*", (c) => proxy(`${echo.url}/up`, c.req));
    app.all("/raw/*", (c) => proxy(`${echo.url}/raw`, { raw: c.req.raw }));
    s = await serveFetch(app);
  });
  after(async () => {
    await s.close();
    await echo.close();
  });

  for (const path of ["/p/1", "/raw/1"]) {
    test(`${path}: method, header and a chunked body arrive upstream`, async () => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("chunked body"));
          controller.close();
        },
      });
      const res = await fetch(`http://127.0.0.1:${s.port}${path}`, {
        method: "POST",
        body,
        duplex: "half",
        headers: { "x-client": "c4" },
      } as RequestInit);
      assert.equal(res.status, 200);
      const seen = (await res.json()) as { method: string; headers: Record<string, string>; body: string };
      assert.deepEqual([seen.method, seen.headers["x-client"], seen.body], ["POST", "c4", "chunked body"]);
    });
  }
});

describe("a Response of the undici package is served (item 4)", () => {
  let s: FetchServer;
  let echo: { url: string; close: () => Promise<void> };
  before(async () => {
    echo = await startEcho();
    s = await serveFetch(async (request: Request) => {
      const path = new URL(request.url).pathname;
      if (path === "/constructed")
        return new undici.Response("from undici", { status: 202, headers: { "x-kind": "undici" } }) as never;
      if (path === "/fetched") return (await undici.fetch(`${echo.url}/via-undici`)) as never;
      if (path === "/stream") {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("one "));
            controller.enqueue(new TextEncoder().encode("two"));
            controller.close();
          },
        });
        return new undici.Response(body, {
          headers: [
            ["set-cookie", "a=1"],
            ["set-cookie", "b=2"],
          ],
        }) as never;
      }
      return { status: 200, headers: new Headers(), body: null } as never; // not a Response
    });
  });
  after(async () => {
    await s.close();
    await echo.close();
  });

  test("new undici.Response(...)", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/constructed`);
    assert.equal(res.status, 202);
    assert.equal(res.headers.get("x-kind"), "undici");
    assert.equal(await res.text(), "from undici");
  });

  test("undici.fetch(...)'s response", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/fetched`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-echo"), "1");
    assert.equal(((await res.json()) as { url: string }).url, "/via-undici");
  });

  test("a streamed body and separate Set-Cookie fields", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/stream`);
    assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
    assert.equal(await res.text(), "one two");
  });

  test("a plain object that looks like a Response is still refused", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/plain`);
    assert.equal(res.status, 500);
    await res.arrayBuffer();
  });
});

describe("a Hono WebSocket route behind middleware that rebuilds the response (item 5)", () => {
  let s: FetchServer;
  before(async () => {
    const app = new Hono();
    app.use("*", cors({ origin: "http://example.test" }));
    app.use("/ws-after", async (c, next) => {
      await next();
      c.header("X-After", "1");
    });
    const echo = upgradeWebSocket(() => ({
      onMessage(event, ws) {
        ws.send(`echo: ${event.data}`);
      },
    }));
    app.get("/ws", echo);
    app.get("/ws-after", echo);
    s = await serveFetch(app);
  });
  after(() => s.close());

  for (const path of ["/ws", "/ws-after"]) {
    test(`${path}: 101 with the middleware's headers, then messages`, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`, {
        headers: { origin: "http://example.test" },
      });
      const upgrade = new Promise<Record<string, unknown>>((resolve, reject) => {
        ws.once("upgrade", (res) => resolve(res.headers));
        ws.once("unexpected-response", (_req, res) => reject(new Error(`got ${res.statusCode}`)));
        ws.once("error", reject);
      });
      // 'open' follows 'upgrade' in the same tick: listen before awaiting.
      const opened = new Promise((resolve) => ws.once("open", resolve));
      const headers = await upgrade;
      assert.equal(headers["access-control-allow-origin"], "http://example.test");
      if (path === "/ws-after") assert.equal(headers["x-after"], "1");
      await opened;
      const reply = new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
      ws.send("hi");
      assert.equal(await reply, "echo: hi");
      ws.close();
      await new Promise((resolve) => ws.once("close", resolve));
    });
  }
});

describe("construction refuses what the standard refuses (item 6)", () => {
  class Sub extends LightResponse {}
  const cases: [string, () => unknown][] = [
    ["an invalid header name", () => new LightResponse("x", { headers: { "bad name": "v" } })],
    ["a header value with CR LF inside", () => new LightResponse("x", { headers: [["x-a", "a\r\nb"]] })],
    ["a statusText with a newline", () => new LightResponse("x", { statusText: "OK\n" })],
    ["a body with status 204", () => new LightResponse("x", { status: 204 })],
    ["Response.json(undefined)", () => LightResponse.json(undefined)],
    ["Response.json(x, { status: 204 })", () => LightResponse.json({}, { status: 204 })],
  ];
  for (const [what, make] of cases) {
    test(`${what}: TypeError, as from Node's class`, () => {
      assert.throws(make, TypeError);
    });
  }

  // The light class against Node's on the same arguments: the same error class, or the same
  // status, statusText, headers and body.
  const inits: [string, unknown, unknown][] = [
    ["a plain record", "x", { headers: { "X-A": "1" } }],
    ["a DEL in a value", "x", { headers: { "x-a": "a\x7fb" } }],
    ["a control in a value", "x", { headers: { "x-a": "a\x01b" } }],
    ["a Latin-1 value", "x", { headers: { "x-a": "caf\xe9" } }],
    ["a value above 0xFF", "x", { headers: { "x-a": "\u20ac" } }],
    ["an empty name", "x", { headers: { "": "v" } }],
    ["an empty value", "x", { headers: { "x-a": "" } }],
    ["a value of spaces", "x", { headers: { "x-a": "  " } }],
    ["a leading CR LF", "x", { headers: { "x-a": "\r\nv" } }],
    ["a number value", "x", { headers: { "x-a": 5 } }],
    ["null headers", "x", { headers: null }],
    ["string headers", "x", { headers: "abc" }],
    ["a pair of three", "x", { headers: [["a", "b", "c"]] }],
    ["a number in a pair", "x", { headers: [["a", 1]] }],
    ["a Latin-1 statusText", "x", { statusText: "caf\xe9" }],
    ["a statusText above 0xFF", "x", { statusText: "\u20ac" }],
    ["a number statusText", "x", { statusText: 5 }],
    ["a string status", "x", { status: "201" }],
    ["a fractional status", "x", { status: 200.5 }],
    ["a NaN status", "x", { status: Number.NaN }],
    ["status 600", "x", { status: 600 }],
    ["status 199", "x", { status: 199 }],
    ["a string init", "x", "s"],
    ["an array init", "x", []],
    ["204 with an empty string", "", { status: 204 }],
    ["a number body", 5, {}],
    [
      "Set-Cookie twice",
      "x",
      {
        headers: [
          ["set-cookie", "a=1"],
          ["Set-Cookie", "b=2"],
        ],
      },
    ],
    [
      "a name twice",
      "x",
      {
        headers: [
          ["x-a", "1"],
          ["X-A", "2"],
        ],
      },
    ],
    ["a null-prototype record", "x", { headers: Object.assign(Object.create(null), { "x-a": "1" }) }],
  ];
  async function outcome(make: () => Response): Promise<unknown> {
    let response: Response;
    try {
      response = make();
    } catch (err) {
      return (err as Error).constructor.name;
    }
    const { status, statusText, headers } = response;
    return [status, statusText, [...headers], headers.getSetCookie(), await response.text()];
  }
  for (const [what, body, init] of inits) {
    test(`${what}: as Node's class`, async () => {
      const ours = await outcome(
        () => new LightResponse(body as never, init as never) as unknown as Response,
      );
      const node = await outcome(() => new NativeResponse(body as never, init as never));
      assert.deepEqual(ours, node);
    });
  }

  test("status 101 without an upgrade: RangeError, as from Node's class", () => {
    assert.throws(() => new LightResponse(null, { status: 101 }), RangeError);
  });

  test("a plain Response is not an instance of a subclass", () => {
    assert.equal(new LightResponse("x") instanceof Sub, false);
    assert.equal(new Sub("x") instanceof Sub, true);
    assert.equal(new Sub("x") instanceof LightResponse, true);
  });

  test("header values are normalized as the standard does", () => {
    const res = new LightResponse("x", { headers: { "x-a": " \t padded \t " } });
    assert.equal(res.headers.get("x-a"), "padded");
  });

  describe("over a socket: the app sees the TypeError, not a 500 after it returned", () => {
    let s: FetchServer;
    before(async () => {
      s = await serveFetch(() => {
        try {
          return new Response("x", { headers: { "bad name": "v" } });
        } catch (err) {
          return new Response(`caught ${(err as Error).name}`, { status: 400 });
        }
      });
    });
    after(() => s.close());
    test("caught in the handler", async () => {
      const res = await fetch(`http://127.0.0.1:${s.port}/`);
      assert.equal(res.status, 400);
      assert.equal(await res.text(), "caught TypeError");
    });
  });
});

describe("the Request an app receives looks like one it builds", () => {
  let s: FetchServer;
  before(async () => {
    s = await serveFetch((request: Request) =>
      Response.json({
        instance: request instanceof Request,
        constructor: request.constructor === Request,
        tag: Object.prototype.toString.call(request),
        built: new Request("http://x.test/") instanceof Request,
      }),
    );
  });
  after(() => s.close());
  test("instanceof, constructor and toStringTag", async () => {
    const res = await fetch(`http://127.0.0.1:${s.port}/`);
    assert.deepEqual(await res.json(), {
      instance: true,
      constructor: true,
      tag: "[object Request]",
      built: true,
    });
  });
});
