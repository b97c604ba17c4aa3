/**
 * The ASGI-style gateway's websocket scope against the `ws` npm client and
 * raw sockets: connect/accept (subprotocol, headers), text and binary both
 * ways, close codes and reasons from either side, the 403 and custom denial
 * responses, handshake errors answered without calling the app, and what
 * happens when the app returns or raises.
 */

import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { ASGIContractError, ASGIDisconnectedError } from "../../src/gateways/asgi/errors.ts";
import type { Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
import type { Server } from "../../src/server/server.ts";
import { rawRequest, startServer, statuses } from "../helpers.ts";
import { sleep } from "../server/client.ts";
import { RawWebSocket, frame as rawFrame, handshake as rawHandshake } from "../websocket/raw-client.ts";

/** Resolves once `predicate` holds, polling; rejects after `ms`. */
async function waitFor(predicate: () => boolean, what: string, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Opens a `ws` client and resolves once it is open. */
function open(url: string, protocols: string[] = []): Promise<{ ws: WebSocket; upgrade: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    let upgrade: IncomingMessage | null = null;
    ws.on("upgrade", (res) => {
      upgrade = res;
    });
    ws.on("open", () => resolve({ ws, upgrade: upgrade! }));
    ws.on("error", reject);
  });
}

/** Resolves with the close code and reason the client saw. */
function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

/** The next message the client receives, as [isBinary, content]. */
function nextMessage(ws: WebSocket): Promise<[boolean, string]> {
  return new Promise((resolve) =>
    ws.once("message", (data, isBinary) => resolve([isBinary, data.toString()])),
  );
}

/** A refused handshake as the client sees it: the status, headers and body. */
function refused(
  url: string,
): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    ws.on("open", () => reject(new Error("the handshake was accepted")));
    ws.on("error", () => {}); // reported through unexpected-response
  });
}

const HANDSHAKE =
  "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

describe("ASGI websocket scope", () => {
  let server: Server;
  let base: string;
  let port: number;
  const seen: Record<string, unknown> = {};
  let appCalls = 0;

  before(async () => {
    const app = async (scope: Scope, receive: Receive, send: Send) => {
      if (scope.type !== "websocket") {
        if (scope.type === "http") {
          await send({ type: "http.response.start", status: 200 });
          await send({ type: "http.response.body", body: new TextEncoder().encode("plain http") });
        }
        return;
      }
      appCalls++;
      const connect = await receive();
      switch (scope.path) {
        case "/echo": {
          seen.connect = connect.type;
          const { headers, raw_path, query_string, state, ...rest } = scope;
          seen.scope = { ...rest, query: Buffer.from(query_string).toString() };
          const protocol = scope.subprotocols.includes("b") ? "b" : null;
          await send({ type: "websocket.accept", subprotocol: protocol, headers: [["x-accepted", "yes"]] });
          for (;;) {
            const event = await receive();
            if (event.type === "websocket.disconnect") {
              seen.disconnect = { code: event.code, reason: event.reason };
              try {
                await send({ type: "websocket.send", text: "too late" });
              } catch (err) {
                seen.sendAfterDisconnect = err instanceof ASGIDisconnectedError ? err.code : String(err);
              }
              return;
            }
            if (event.type !== "websocket.receive") throw new Error(`unexpected ${event.type}`);
            if (event.text === "close please") {
              await send({ type: "websocket.close", code: 4000, reason: "bye" });
              continue;
            }
            if (event.text !== null) await send({ type: "websocket.send", text: `echo: ${event.text}` });
            else await send({ type: "websocket.send", bytes: event.bytes });
          }
        }
        case "/deny":
          await send({ type: "websocket.close" });
          seen.afterDeny = (await receive()).type;
          return;
        case "/custom-deny":
          await send({
            type: "websocket.http.response.start",
            status: 401,
            headers: [
              ["content-type", "text/plain"],
              ["www-authenticate", "Bearer"],
            ],
          });
          await send({
            type: "websocket.http.response.body",
            body: new TextEncoder().encode("no "),
            more_body: true,
          });
          await send({ type: "websocket.http.response.body", body: new TextEncoder().encode("token") });
          return;
        case "/order": {
          const codes: string[] = [];
          const attempt = (p: Promise<void>) =>
            p.then(
              () => codes.push("ok"),
              (err) => codes.push(err instanceof ASGIContractError ? err.code : String(err)),
            );
          await attempt(send({ type: "websocket.send", text: "before accept" }));
          await attempt(send({ type: "websocket.accept", subprotocol: "not-offered" }));
          await attempt(send({ type: "websocket.accept" }));
          await attempt(send({ type: "websocket.accept" }));
          await attempt(send({ type: "websocket.send", text: "a", bytes: new Uint8Array(1) }));
          await attempt(send({ type: "websocket.send" }));
          await attempt(send({ type: "websocket.close", code: 999 }));
          seen.order = codes;
          await send({ type: "websocket.close", code: 1000 });
          return;
        }
        case "/raise-after-accept":
          await send({ type: "websocket.accept" });
          throw new Error("app broke");
        case "/return-after-accept":
          await send({ type: "websocket.accept" });
          return;
        case "/return-before-accept":
          return;
        case "/slow": {
          // Does not receive for a while: messages wait (and the session pauses) until it does.
          await send({ type: "websocket.accept" });
          await sleep(150);
          const got: string[] = [];
          for (;;) {
            const event = await receive();
            if (event.type !== "websocket.receive") break;
            got.push(event.text!);
            if (got.length === 50) break;
          }
          await send({ type: "websocket.send", text: got.join(",") });
          await send({ type: "websocket.close" });
          return;
        }
        default:
          await send({ type: "websocket.close" });
      }
    };
    ({ server, port } = await startServer(app, { accessLog: false, logLevel: "critical" }));
    base = `ws://127.0.0.1:${port}`;
  });

  after(() => server.close());

  test("connect, accept with a subprotocol and headers, echo text, the scope's keys", async () => {
    const { ws, upgrade } = await open(`${base}/echo?x=1`, ["a", "b"]);
    try {
      assert.equal(ws.protocol, "b");
      assert.equal(upgrade.headers["x-accepted"], "yes");
      assert.equal(seen.connect, "websocket.connect");
      assert.deepEqual(seen.scope, {
        type: "websocket",
        asgi: { version: "3.0", spec_version: "2.5" },
        http_version: "1.1",
        path: "/echo",
        root_path: "",
        client: ["127.0.0.1", (seen.scope as { client: [string, number] }).client[1]],
        server: ["127.0.0.1", port],
        scheme: "ws",
        subprotocols: ["a", "b"],
        extensions: { "websocket.http.response": {} },
        query: "x=1",
      });
      const text = nextMessage(ws);
      ws.send("héllo");
      assert.deepEqual(await text, [false, "echo: héllo"]);
    } finally {
      ws.terminate();
    }
  });

  test("binary messages arrive as websocket.receive bytes and go back byte for byte", async () => {
    const { ws } = await open(`${base}/echo`);
    try {
      const bytes = Buffer.from([0x00, 0xff, 0x80, 0x41, 0x0a]);
      const got = new Promise<Buffer>((resolve) => ws.once("message", (data) => resolve(data as Buffer)));
      ws.send(bytes);
      assert.deepEqual(await got, bytes);
    } finally {
      ws.terminate();
    }
  });

  test("the app's websocket.close reaches the client with its code and reason", async () => {
    const { ws } = await open(`${base}/echo`);
    const done = closed(ws);
    ws.send("close please");
    assert.deepEqual(await done, { code: 4000, reason: "bye" });
  });

  test("the client's close: websocket.disconnect with its code and reason; send() then raises", async () => {
    seen.disconnect = undefined;
    seen.sendAfterDisconnect = undefined;
    const { ws } = await open(`${base}/echo`);
    ws.close(4001, "done here");
    await closed(ws);
    await waitFor(() => seen.sendAfterDisconnect !== undefined, "the app to finish");
    assert.deepEqual(seen.disconnect, { code: 4001, reason: "done here" });
    assert.equal(seen.sendAfterDisconnect, "TSGI_ERR_ASGI_DISCONNECTED");
  });

  test("a connection dropped without a close frame: websocket.disconnect with 1006", async () => {
    seen.disconnect = undefined;
    const { ws } = await open(`${base}/echo`);
    ws.terminate();
    await waitFor(() => seen.disconnect !== undefined, "the disconnect");
    assert.deepEqual(seen.disconnect, { code: 1006, reason: "" });
  });

  test("websocket.close before accept: HTTP 403, and the app's next receive() is websocket.disconnect", async () => {
    const res = await refused(`${base}/deny`);
    assert.equal(res.status, 403);
    await waitFor(() => seen.afterDeny !== undefined, "the app to finish");
    assert.equal(seen.afterDeny, "websocket.disconnect");
  });

  test("a custom denial response (websocket.http.response.*): the app's status, headers and body", async () => {
    const res = await refused(`${base}/custom-deny`);
    assert.equal(res.status, 401);
    assert.equal(res.headers["www-authenticate"], "Bearer");
    assert.equal(res.body, "no token");
  });

  test("handshake errors are answered 400 / 426 without calling the app", async () => {
    const calls = appCalls;
    const noKey = await rawRequest(
      port,
      "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
      { timeoutMs: 200 },
    );
    assert.deepEqual(statuses(noKey.text), [400]);
    const oldVersion = await rawRequest(port, `${HANDSHAKE}Sec-WebSocket-Version: 8\r\n\r\n`, {
      timeoutMs: 200,
    });
    assert.deepEqual(statuses(oldVersion.text), [426]);
    assert.match(oldVersion.text, /\r\nSec-WebSocket-Version: 13\r\n/i);
    assert.equal(appCalls, calls);
    // And a valid one reaches the app.
    const ok = await rawRequest(port, `${HANDSHAKE}Sec-WebSocket-Version: 13\r\n\r\n`, { timeoutMs: 200 });
    assert.deepEqual(statuses(ok.text), [101]);
    assert.equal(appCalls, calls + 1);
  });

  test("events out of order and invalid events are ASGIContractErrors the app can catch", async () => {
    const { ws } = await open(`${base}/order`);
    const done = closed(ws);
    assert.equal((await done).code, 1000);
    assert.deepEqual(seen.order, [
      "TSGI_ERR_ASGI_CONTRACT", // send before accept
      "TSGI_ERR_ASGI_CONTRACT", // a subprotocol the client did not offer
      "ok",
      "TSGI_ERR_ASGI_CONTRACT", // accept twice
      "TSGI_ERR_ASGI_CONTRACT", // both text and bytes
      "TSGI_ERR_ASGI_CONTRACT", // neither
      "TSGI_ERR_ASGI_CONTRACT", // close code 999
    ]);
  });

  test("an app that raises after accept: closed with 1011; one that returns: closed with 1000", async () => {
    const raised = await open(`${base}/raise-after-accept`);
    assert.equal((await closed(raised.ws)).code, 1011);
    const returned = await open(`${base}/return-after-accept`);
    assert.equal((await closed(returned.ws)).code, 1000);
  });

  test("an app that returns without accepting: 500 (uvicorn's rule)", async () => {
    const res = await refused(`${base}/return-before-accept`);
    assert.equal(res.status, 500);
  });

  test("messages sent while the app is not receiving wait for it, in order", async () => {
    const { ws } = await open(`${base}/slow`);
    const reply = nextMessage(ws);
    const expected: string[] = [];
    for (let i = 0; i < 50; i++) {
      expected.push(`m${i}`);
      ws.send(`m${i}`);
    }
    assert.deepEqual(await reply, [false, expected.join(",")]);
    await closed(ws);
  });

  // Issue 12 item 6: the app's answer to a message that arrived before a
  // protocol error in the same read goes out before the close, as on the
  // Fetch gateway (whose onmessage runs synchronously).
  for (const [what, bad] of [
    ["a reserved bit (RSV2)", rawFrame(1, "x", { rsv: 0b010 })],
    ["a reserved opcode (3)", rawFrame(3, "x")],
  ] as const) {
    test(`a message, then a frame with ${what} in the same read: the echo, then close 1002`, async () => {
      const ws = await RawWebSocket.open(port, rawHandshake("/echo"));
      assert.equal(ws.status, 101);
      ws.send(Buffer.concat([rawFrame(1, "before the error"), bad]));
      const first = await ws.next(10_000);
      assert.equal(first?.opcode, 1, "the echo comes first");
      assert.equal(first?.payload.toString(), "echo: before the error");
      assert.equal((await ws.closeFrame(10_000))?.code, 1002);
      assert.ok(await ws.closed(10_000));
    });
  }

  test("plain HTTP requests to the same app get the http scope", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/echo`);
    assert.equal(await res.text(), "plain http");
  });
});
