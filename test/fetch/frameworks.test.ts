/**
 * Real frameworks on the Fetch gateway, over real sockets: the Hono example
 * (examples/hono_app.ts) and the itty-router example (examples/itty_app.ts),
 * each served in-process by `serve(app, { interface: "fetch" })` and by the
 * built CLI, checked route by route: status, headers and bodies, JSON and
 * form bodies in, server-sent events arriving event by event, the 404 and
 * error handlers, keep-alive and pipelining, the connection info in `c.env`.
 * Needs `npm run build` first (`npm test` does it).
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, mock, test } from "node:test";
import { Hono } from "hono";
import honoApp, { STREAM_DELAY_MS, STREAM_EVENTS } from "../../examples/hono_app.ts";
import ittyApp from "../../examples/itty_app.ts";
import { CLI, openSocket, rawRequest, startCli, startServer, statuses } from "../helpers.ts";

const HONO = "examples/hono_app.ts";
const ITTY = "examples/itty_app.ts";

before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
});

/** A server under test, however it was started. */
interface Running {
  url: string;
  port: number;
  /** What the app wrote to stderr (console.error), where it can be seen. */
  appErrors: () => string;
  stop: () => Promise<void>;
}

/** Two ways to serve a module's default export: in this process, and with the built CLI. */
const MODES: { name: string; start: (app: unknown, module: string, args?: string[]) => Promise<Running> }[] =
  [
    {
      name: 'serve(app, { interface: "fetch" })',
      async start(app) {
        const s = await startServer(app, { interface: "fetch" });
        let logged = "";
        mock.method(console, "error", (...args: unknown[]) => {
          logged += `${args.join(" ")}\n`;
        });
        return {
          url: s.url,
          port: s.port,
          appErrors: () => logged,
          stop: async () => {
            mock.restoreAll();
            await s.server.close(1000);
          },
        };
      },
    },
    {
      name: "the built CLI",
      async start(_app, module, args = []) {
        const cli = await startCli(["--port", "0", "--no-access-log", ...args, module]);
        return {
          url: `http://127.0.0.1:${cli.port}`,
          port: cli.port,
          appErrors: cli.stderr,
          stop: async () => {
            cli.child.kill("SIGTERM");
            assert.equal(await cli.exited, 0, cli.stderr());
          },
        };
      },
    },
  ];

/** The body after the head of a raw response. */
function bodyOf(text: string): string {
  return text.slice(text.indexOf("\r\n\r\n") + 4);
}

/** A raw response's header fields, names lowercased. */
function headersOf(text: string): Map<string, string> {
  const head = text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n").slice(1);
  return new Map(
    head.map((line) => [
      line.slice(0, line.indexOf(":")).toLowerCase(),
      line.slice(line.indexOf(":") + 1).trim(),
    ]),
  );
}

/** Parses a text/event-stream body into its events. */
function sseEvents(text: string): Record<string, string>[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) =>
      Object.fromEntries(
        block
          .split("\n")
          .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]),
      ),
    );
}

async function getJson(url: string, init?: RequestInit): Promise<{ res: Response; body: unknown }> {
  const res = await fetch(url, init);
  return { res, body: await res.json() };
}

for (const mode of MODES) {
  describe(`Hono example via ${mode.name}`, () => {
    let s: Running;
    before(async () => {
      s = await mode.start(honoApp, HONO);
    });
    after(() => s.stop());

    test("GET / answers the text", async () => {
      const res = await fetch(`${s.url}/`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /^text\/plain; ?charset=utf-8$/i);
      const body = await res.text();
      assert.equal(body, "Hello from Hono on tsgi!\n");
      assert.equal(res.headers.get("content-length"), String(Buffer.byteLength(body)));
      assert.equal(res.headers.get("transfer-encoding"), null);
      assert.ok(res.headers.get("date"));
    });

    test("a route parameter: /users/:id, found, missing, percent-encoded", async () => {
      const found = await getJson(`${s.url}/users/42`);
      assert.equal(found.res.status, 200);
      assert.equal(found.res.headers.get("content-type"), "application/json");
      assert.deepEqual(found.body, { id: 42, name: "Grace Hopper" });

      const missing = await getJson(`${s.url}/users/9`);
      assert.equal(missing.res.status, 404);
      assert.deepEqual(missing.body, { error: "no such user", id: "9" });

      const encoded = await getJson(`${s.url}/users/caf%C3%A9`);
      assert.equal(encoded.res.status, 404);
      assert.deepEqual(encoded.body, { error: "no such user", id: "café" });
    });

    test("the query string: /search?q=", async () => {
      assert.deepEqual((await getJson(`${s.url}/search?q=ST`)).body, { q: "ST", results: ["stream"] });
      assert.deepEqual((await getJson(`${s.url}/search?q=e&x=1`)).body, {
        q: "e",
        results: ["socket", "parser", "gateway", "stream", "header", "keep-alive"],
      });
      assert.deepEqual((await getJson(`${s.url}/search?q=keep%2Dalive`)).body, {
        q: "keep-alive",
        results: ["keep-alive"],
      });
      assert.deepEqual((await getJson(`${s.url}/search?q=a+b`)).body, { q: "a b", results: [] });
      assert.deepEqual((await getJson(`${s.url}/search`)).body, { q: "", results: [] });
    });

    test("POST /echo: JSON in, JSON out with a field added", async () => {
      const sent = { a: 1, nested: { list: [1, "two", null] }, text: "naïve ☃" };
      const { res, body } = await getJson(`${s.url}/echo`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(sent),
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.deepEqual(body, { ...sent, echoed: true });
    });

    test("POST /echo: a 1 MiB JSON body, sent chunked, arrives whole", async () => {
      const big = { data: "x".repeat(1024 * 1024) };
      const bytes = new TextEncoder().encode(JSON.stringify(big));
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 64 * 1024)
            controller.enqueue(bytes.subarray(i, i + 64 * 1024));
          controller.close();
        },
      });
      const { res, body } = await getJson(`${s.url}/echo`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: stream,
        duplex: "half",
      } as RequestInit);
      assert.equal(res.status, 200);
      assert.deepEqual(body, { ...big, echoed: true });
    });

    test("POST /echo: bad JSON and a non-object go to the error handler as 400", async () => {
      const bad = await getJson(`${s.url}/echo`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{not json",
      });
      assert.equal(bad.res.status, 400);
      assert.deepEqual(bad.body, { error: "the body is not valid JSON" });
      const list = await getJson(`${s.url}/echo`, { method: "POST", body: "[1,2]" });
      assert.equal(list.res.status, 400);
      assert.deepEqual(list.body, { error: "expected a JSON object" });
    });

    test("POST /form: urlencoded and multipart bodies through parseBody()", async () => {
      const urlencoded = await getJson(`${s.url}/form`, {
        method: "POST",
        body: new URLSearchParams({ name: "Ada Lovelace", lang: "ts & js" }),
      });
      assert.equal(urlencoded.res.status, 200);
      assert.deepEqual(urlencoded.body, { fields: { name: "Ada Lovelace", lang: "ts & js" } });

      const form = new FormData();
      form.append("name", "Grace");
      form.append("upload", new Blob(["file contents\n"], { type: "text/plain" }), "notes.txt");
      const multipart = await getJson(`${s.url}/form`, { method: "POST", body: form });
      assert.equal(multipart.res.status, 200);
      assert.deepEqual(multipart.body, { fields: { name: "Grace", upload: "(file notes.txt)" } });
    });

    test("GET /stream: server-sent events arrive one by one, before the stream ends", async () => {
      const res = await fetch(`${s.url}/stream`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      assert.equal(res.headers.get("cache-control"), "no-cache");
      assert.equal(res.headers.get("content-length"), null);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();

      const first = await reader.read();
      const firstAt = Date.now();
      assert.equal(first.done, false, "the stream ended before any event arrived");
      let text = decoder.decode(first.value, { stream: true });
      // The first read holds the first event and not the last one: the rest is still being produced.
      assert.match(text, /^event: tick\ndata: \{"n":1\}\nid: 1\n\n/);
      assert.doesNotMatch(text, new RegExp(`"n":${STREAM_EVENTS}`));

      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        text += decoder.decode(next.value, { stream: true });
      }
      const elapsed = Date.now() - firstAt;
      // The other events came over the following (STREAM_EVENTS - 1) delays, not in one go.
      assert.ok(
        elapsed >= (STREAM_EVENTS - 1) * STREAM_DELAY_MS * 0.8,
        `the stream ended ${elapsed} ms after the first event; expected about ${(STREAM_EVENTS - 1) * STREAM_DELAY_MS} ms`,
      );
      assert.deepEqual(
        sseEvents(text),
        Array.from({ length: STREAM_EVENTS }, (_, i) => ({
          event: "tick",
          data: JSON.stringify({ n: i + 1 }),
          id: String(i + 1),
        })),
      );
    });

    test("GET /stream on the wire: chunked framing, one chunk per event", async () => {
      const r = await rawRequest(s.port, "GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", {
        timeoutMs: 2000,
      });
      assert.equal(r.closed, true);
      assert.deepEqual(statuses(r.text), [200]);
      const headers = headersOf(r.text);
      assert.equal(headers.get("transfer-encoding"), "chunked");
      assert.equal(headers.has("content-length"), false);
      const chunks = [...bodyOf(r.text).matchAll(/([0-9a-f]+)\r\n/gi)];
      assert.ok(chunks.length >= STREAM_EVENTS, `expected at least ${STREAM_EVENTS} chunks:\n${r.text}`);
      assert.ok(bodyOf(r.text).endsWith("0\r\n\r\n"), `no last chunk:\n${r.text}`);
    });

    test("a client that leaves mid-stream does not hurt the server", async () => {
      const controller = new AbortController();
      const res = await fetch(`${s.url}/stream`, { signal: controller.signal });
      const reader = res.body!.getReader();
      assert.equal((await reader.read()).done, false);
      controller.abort();
      await reader.read().catch(() => {});
      await new Promise((r) => setTimeout(r, STREAM_DELAY_MS * 2));
      const after = await fetch(`${s.url}/users/1`);
      assert.equal(after.status, 200);
      assert.deepEqual(await after.json(), { id: 1, name: "Ada Lovelace" });
    });

    test("GET /boom: the app's onError handler answers 500, and the server carries on", async () => {
      const { res, body } = await getJson(`${s.url}/boom`);
      assert.equal(res.status, 500);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.deepEqual(body, { error: "internal error" });
      assert.equal((await fetch(`${s.url}/`)).status, 200);
      const deadline = Date.now() + 2000;
      while (!s.appErrors().includes("GET /boom: boom") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(s.appErrors(), /GET \/boom: boom/);
    });

    test("an unknown path: the app's notFound handler answers 404", async () => {
      const { res, body } = await getJson(`${s.url}/no/such/page?x=1`);
      assert.equal(res.status, 404);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.deepEqual(body, { error: "not found", path: "/no/such/page" });
      const post = await getJson(`${s.url}/users/1`, { method: "POST", body: "x" });
      assert.equal(post.res.status, 404);
      assert.deepEqual(post.body, { error: "not found", path: "/users/1" });
    });

    test("the connection info reaches handlers as c.env", async () => {
      const socket = await openSocket(s.port);
      const localPort = socket.localPort;
      const text = await new Promise<string>((resolve, reject) => {
        let data = "";
        socket.on("data", (d) => (data += d.toString("latin1")));
        socket.on("end", () => resolve(data));
        socket.on("error", reject);
        socket.write("GET /whoami HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
      });
      socket.destroy();
      assert.deepEqual(statuses(text), [200]);
      assert.deepEqual(JSON.parse(bodyOf(text)), { remoteAddress: "127.0.0.1", remotePort: localPort });
    });

    test("keep-alive and pipelining: HEAD, GET and POST in one write, answered in order", async () => {
      const json = '{"k":"v"}';
      const r = await rawRequest(
        s.port,
        "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" +
          "GET /users/2 HTTP/1.1\r\nHost: t\r\n\r\n" +
          `POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}` +
          "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        { timeoutMs: 2000 },
      );
      assert.equal(r.closed, true);
      assert.deepEqual(statuses(r.text), [200, 200, 200, 404]);
      const parts = r.text.split(/(?=HTTP\/1\.1 \d{3} )/);
      assert.equal(bodyOf(parts[0]!), "", "a HEAD response has no body");
      assert.equal(bodyOf(parts[1]!), '{"id":2,"name":"Alan Turing"}');
      assert.equal(bodyOf(parts[2]!), '{"k":"v","echoed":true}');
      assert.equal(bodyOf(parts[3]!), '{"error":"not found","path":"/nope"}');
    });
  });

  describe(`itty-router example via ${mode.name}`, () => {
    let s: Running;
    before(async () => {
      s = await mode.start(ittyApp, ITTY);
    });
    after(() => s.stop());

    test("text routes, with a route parameter", async () => {
      const root = await fetch(`${s.url}/`);
      assert.equal(root.status, 200);
      assert.equal(root.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(await root.text(), "Hello from itty-router on tsgi!\n");
      // itty-router hands over route parameters as they are in the URL (not percent-decoded).
      const hello = await fetch(`${s.url}/hello/Ada`);
      assert.equal(hello.status, 200);
      assert.equal(await hello.text(), "Hello, Ada!\n");
    });

    test("JSON with the query, repeated keys as lists", async () => {
      const { res, body } = await getJson(`${s.url}/json?a=1&a=2&b=x`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
      assert.deepEqual(body, { list: [1, 2, 3], query: { a: ["1", "2"], b: "x" } });
    });

    test("POST /items: 201 with the item, 400 for bad JSON", async () => {
      const created = await getJson(`${s.url}/items`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: '{"name":"widget"}',
      });
      assert.equal(created.res.status, 201);
      assert.deepEqual(created.body, { created: { name: "widget" } });
      const bad = await getJson(`${s.url}/items`, { method: "POST", body: "nope" });
      assert.equal(bad.res.status, 400);
      assert.deepEqual(bad.body, { status: 400, error: "the body is not valid JSON" });
    });

    test("an unknown route: AutoRouter's 404", async () => {
      const { res, body } = await getJson(`${s.url}/missing`);
      assert.equal(res.status, 404);
      assert.deepEqual(body, { status: 404, error: "Not Found" });
    });
  });
}

describe("the CLI picks the Fetch interface", () => {
  for (const args of [[], ["--interface", "fetch"], ["--interface", "auto"]]) {
    test(`for the Hono app with ${args.length === 0 ? "no --interface" : args.join(" ")}`, async () => {
      const cli = await startCli(["--port", "0", ...args, HONO]);
      try {
        const res = await fetch(`http://127.0.0.1:${cli.port}/users/1`);
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { id: 1, name: "Ada Lovelace" });
      } finally {
        cli.child.kill("SIGTERM");
        assert.equal(await cli.exited, 0);
      }
      // The access log line names the request.
      assert.match(cli.stdout(), /"GET \/users\/1 HTTP\/1\.1" 200 /);
    });
  }
});

/**
 * Native (undici) Responses: fetch() results (a proxy), Response.redirect(),
 * and every Response under --no-light-response. These were answered 500
 * before f96a316 (LightResponse.parts() on a native Response).
 */
describe("Hono apps returning native (undici) Responses", () => {
  test("a route that proxies with fetch(), and Response.redirect()", async () => {
    const upstream = await startServer(honoApp, { interface: "fetch" });
    const proxy = new Hono();
    proxy.get("/users/:id", (c) => fetch(`${upstream.url}/users/${c.req.param("id")}`));
    proxy.get("/away", () => Response.redirect("http://example.com/", 302));
    const s = await startServer(proxy, { interface: "fetch" });
    try {
      const res = await fetch(`${s.url}/users/42`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { id: 42, name: "Grace Hopper" });
      const away = await fetch(`${s.url}/away`, { redirect: "manual" });
      assert.equal(away.status, 302);
      assert.equal(away.headers.get("location"), "http://example.com/");
    } finally {
      await s.server.close(1000);
      await upstream.server.close(1000);
    }
  });

  test("the Hono example under --no-light-response", async () => {
    const cli = await startCli(["--port", "0", "--no-access-log", "--no-light-response", HONO]);
    const url = `http://127.0.0.1:${cli.port}`;
    try {
      const root = await fetch(`${url}/`);
      assert.equal(root.status, 200);
      assert.equal(await root.text(), "Hello from Hono on tsgi!\n");
      // A native Response with a body known in full still goes out with Content-Length.
      assert.equal(root.headers.get("content-length"), "25");
      assert.equal(root.headers.get("transfer-encoding"), null);
      const user = await fetch(`${url}/users/42`);
      assert.equal(user.status, 200);
      assert.deepEqual(await user.json(), { id: 42, name: "Grace Hopper" });
      const events = await fetch(`${url}/stream`);
      assert.equal(events.status, 200);
      assert.equal(sseEvents(await events.text()).length, STREAM_EVENTS);
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exited;
    }
  });
});
