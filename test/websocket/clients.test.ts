/**
 * The Fetch gateway's WebSockets with real, independent clients: the `ws`
 * package and undici's WebSocket (the browser test is in chat-browser.test.ts).
 * Echo of text and binary, subprotocols, close codes both ways,
 * permessage-deflate, Hono's helper through `tsgi/hono`, and the WHATWG
 * socket's own rules.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { Hono } from "hono";
import { WebSocket as UndiciWebSocket } from "undici";
import WebSocket from "ws";
import echo from "../../examples/ws_echo.ts";
import { upgradeWebSocket as upgradeHonoWebSocket } from "../../src/adapters/hono.ts";
import { upgradeWebSocket } from "../../src/gateways/fetch/websocket.ts";
import { rawRequest, startServer } from "../helpers.ts";

type Started = Awaited<ReturnType<typeof startServer>>;

function wsUrl(s: Started, path = "/"): string {
  return `ws://127.0.0.1:${s.port}${path}`;
}

/** Resolves with the next `count` messages of a `ws` client. */
function messages(ws: WebSocket, count: number): Promise<{ data: Buffer; binary: boolean }[]> {
  return new Promise((resolve) => {
    const got: { data: Buffer; binary: boolean }[] = [];
    const on = (data: Buffer, binary: boolean) => {
      got.push({ data, binary });
      if (got.length === count) {
        ws.off("message", on);
        resolve(got);
      }
    };
    ws.on("message", on);
  });
}

describe("Fetch WebSockets with the ws client", () => {
  let s: Started;
  before(async () => {
    s = await startServer(echo, { interface: "fetch", accessLog: false, wsPerMessageDeflate: true });
  });
  after(() => s.server.close(500));

  test("echoes text as text and binary as binary", async () => {
    const ws = new WebSocket(wsUrl(s), { perMessageDeflate: false });
    await once(ws, "open");
    const got = messages(ws, 3);
    ws.send("hello ✓");
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.send("x".repeat(100_000));
    const [a, b, c] = await got;
    assert.deepEqual([a!.binary, a!.data.toString()], [false, "hello ✓"]);
    assert.deepEqual([b!.binary, [...b!.data]], [true, [0, 1, 2, 255]]);
    assert.equal(c!.data.toString(), "x".repeat(100_000));
    ws.close(4000, "done");
    const [code] = await once(ws, "close");
    assert.equal(code, 4000);
  });

  test("negotiates permessage-deflate and round-trips compressed messages with context takeover", async () => {
    const ws = new WebSocket(wsUrl(s), { perMessageDeflate: { threshold: 0 } });
    await once(ws, "open");
    assert.match(ws.extensions, /permessage-deflate/);
    const texts = Array.from({ length: 5 }, (_, i) => `message ${i} `.repeat(500));
    const got = messages(ws, texts.length);
    for (const t of texts) ws.send(t);
    assert.deepEqual(
      (await got).map((m) => m.data.toString()),
      texts,
    );
    ws.close();
    await once(ws, "close");
  });

  test("a client that does not offer deflate gets none", async () => {
    const ws = new WebSocket(wsUrl(s), { perMessageDeflate: false });
    await once(ws, "open");
    assert.equal(ws.extensions, "");
    ws.terminate();
  });
});

describe("Fetch WebSockets with undici's client", () => {
  let s: Started;
  before(async () => {
    s = await startServer(echo, { interface: "fetch", accessLog: false });
  });
  after(() => s.server.close(500));

  test("echoes text and binary and closes cleanly", async () => {
    const ws = new UndiciWebSocket(wsUrl(s));
    ws.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const got: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      ws.onmessage = (event) => {
        got.push(event.data);
        if (got.length === 2) resolve();
      };
    });
    ws.send("undici says hi");
    ws.send(new Uint8Array([9, 8, 7]));
    await done;
    assert.equal(got[0], "undici says hi");
    assert.deepEqual([...new Uint8Array(got[1] as ArrayBuffer)], [9, 8, 7]);
    const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) => {
      ws.onclose = (event) => resolve({ code: event.code, wasClean: event.wasClean });
    });
    ws.close(1000);
    assert.deepEqual(await closed, { code: 1000, wasClean: true });
  });
});

describe("the WHATWG socket on the server side", () => {
  const events: string[] = [];
  let s: Started;
  before(async () => {
    s = await startServer(
      {
        fetch(request: Request) {
          const url = new URL(request.url);
          if (url.pathname === "/refuse") {
            // Made a socket, then decided against it: the client gets the 403.
            const { socket } = upgradeWebSocket(request);
            socket.onclose = (event) =>
              events.push(`refused socket closed ${(event as { code?: number }).code}`);
            return new Response("no", { status: 403 });
          }
          const { socket, response } = upgradeWebSocket(request, {
            protocol: request.headers.get("sec-websocket-protocol")?.includes("chat.v2")
              ? "chat.v2"
              : undefined,
            headers: { "Set-Cookie": "seen=1" },
          });
          assert.throws(() => socket.send("too early"), { name: "InvalidStateError" });
          socket.addEventListener("open", () => {
            events.push(`open ${socket.readyState} ${socket.protocol}`);
            if (url.pathname === "/server-closes") socket.close(4321, "server says bye");
          });
          socket.addEventListener("message", (event) => {
            const data = (event as MessageEvent).data;
            if (data === "throw") throw new Error("listener failure");
            if (data instanceof Blob) void data.text().then((t) => socket.send(`blob:${t}`));
            else socket.send(data as string);
          });
          socket.onclose = (event) => {
            const e = event as unknown as { code: number; reason: string; wasClean: boolean };
            events.push(`close ${e.code} ${e.reason} ${e.wasClean}`);
          };
          return response;
        },
      },
      { interface: "fetch", accessLog: false },
    );
  });
  after(() => s.server.close(500));

  test("open fires after the 101; protocol and extra headers are in the handshake", async () => {
    const ws = new WebSocket(wsUrl(s), ["chat.v1", "chat.v2"]);
    const upgraded = once(ws, "upgrade");
    const opened = once(ws, "open");
    const [response] = (await upgraded) as [{ headers: Record<string, string | string[]> }];
    await opened;
    assert.equal(ws.protocol, "chat.v2");
    assert.deepEqual(response.headers["set-cookie"], ["seen=1"]);
    ws.send(Buffer.from("binary arrives as a Blob by default"));
    const [data] = (await once(ws, "message")) as [Buffer];
    assert.equal(data.toString(), "blob:binary arrives as a Blob by default");
    ws.close(1000, "bye");
    await once(ws, "close");
    await waitFor(() => events.includes("close 1000 bye true"));
    assert.ok(events.includes("open 1 chat.v2"), events.join("\n"));
  });

  test("a throwing listener is logged and does not take the server down", async () => {
    const ws = new WebSocket(wsUrl(s));
    await once(ws, "open");
    ws.send("throw");
    ws.send("after");
    const [data] = (await once(ws, "message")) as [Buffer];
    assert.equal(data.toString(), "after");
    assert.match(s.errors.text, /error in a WebSocket event listener/);
    ws.terminate();
  });

  test("close() from the server reaches the client with its code and reason", async () => {
    const ws = new WebSocket(wsUrl(s, "/server-closes"));
    const [code, reason] = (await once(ws, "close")) as [number, Buffer];
    assert.deepEqual([code, reason.toString()], [4321, "server says bye"]);
    await waitFor(() => events.some((e) => e.startsWith("close 4321 server says bye true")));
  });

  test("a socket whose response was not returned never opens", async () => {
    const ws = new WebSocket(wsUrl(s, "/refuse"));
    ws.on("error", () => {}); // the ws client reports the refused upgrade as an error too
    const [, res] = (await once(ws, "unexpected-response")) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 403);
    await waitFor(() => events.includes("refused socket closed 1006"));
    ws.terminate();
  });

  test("a client that vanishes gives the app a 1006 close", async () => {
    const ws = new WebSocket(wsUrl(s));
    await once(ws, "open");
    events.length = 0;
    ws.terminate();
    await waitFor(() => events.includes("close 1006  false"));
  });
});

describe("Hono's upgradeWebSocket from tsgi/hono", () => {
  let s: Started;
  before(async () => {
    const app = new Hono();
    app.get(
      "/ws",
      upgradeHonoWebSocket(() => ({
        onOpen(_event, ws) {
          ws.send("welcome");
        },
        onMessage(event, ws) {
          ws.send(typeof event.data === "string" ? `hono: ${event.data}` : (event.data as ArrayBuffer));
        },
      })),
    );
    app.get("/ws", (c) => c.text("plain GET on /ws\n"));
    s = await startServer(app, { interface: "fetch", accessLog: false });
  });
  after(() => s.server.close(500));

  test("works unchanged with a Hono app", async () => {
    const ws = new WebSocket(wsUrl(s, "/ws"));
    const got = messages(ws, 3);
    await once(ws, "open");
    ws.send("hi");
    ws.send(Buffer.from([1, 2]));
    const [welcome, text, binary] = await got;
    assert.equal(welcome!.data.toString(), "welcome");
    assert.equal(text!.data.toString(), "hono: hi");
    assert.deepEqual([binary!.binary, [...binary!.data]], [true, [1, 2]]);
    ws.close();
    await once(ws, "close");
  });

  test("a plain request falls through to the next handler", async () => {
    const res = await fetch(`${s.url}/ws`);
    assert.equal(await res.text(), "plain GET on /ws\n");
  });

  test("a bad handshake gets its status, not Hono's 500", async () => {
    const res = await rawRequest(
      s.port,
      "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\nConnection: close\r\n\r\n",
    );
    assert.match(res.text, /^HTTP\/1\.1 426 /);
    assert.match(res.text, /\r\nsec-websocket-version: 13\r\n/i);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}
