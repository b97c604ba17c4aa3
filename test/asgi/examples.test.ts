/**
 * The ASGI-style examples as users run them: examples/asgi_echo.ts echoes
 * text and binary WebSocket messages (with the `ws` client and undici's
 * WHATWG WebSocket) and answers plain HTTP; examples/asgi_app.ts serves lifespan state, a request body and a
 * streamed response.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket as UndiciWebSocket } from "undici";
import WebSocket from "ws";
import asgiApp from "../../examples/asgi_app.ts";
import asgiEcho from "../../examples/asgi_echo.ts";
import { startServer } from "../helpers.ts";

describe("examples/asgi_echo.ts", () => {
  test("echoes text as text and binary as binary at /, refuses other paths, answers HTTP", async () => {
    const { server, port } = await startServer(asgiEcho, { accessLog: false });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      await new Promise((resolve, reject) => {
        ws.on("open", resolve);
        ws.on("error", reject);
      });
      const replies: [boolean, Buffer][] = [];
      const got = new Promise<void>((resolve) =>
        ws.on("message", (data, isBinary) => {
          replies.push([isBinary, data as Buffer]);
          if (replies.length === 2) resolve();
        }),
      );
      ws.send("hé");
      ws.send(Buffer.from([0, 1, 255]));
      await got;
      assert.deepEqual(replies, [
        [false, Buffer.from("hé")],
        [true, Buffer.from([0, 1, 255])],
      ]);
      ws.close();

      const status = await new Promise<number>((resolve) => {
        const other = new WebSocket(`ws://127.0.0.1:${port}/other`);
        other.on("unexpected-response", (_req, res) => resolve(res.statusCode!));
        other.on("error", () => {});
      });
      assert.equal(status, 403);

      const res = await fetch(`http://127.0.0.1:${port}/`);
      assert.match(await res.text(), /WebSocket echo/);
    } finally {
      await server.close();
    }
  });
  test("undici's WHATWG WebSocket client: text and binary echo, then a clean close", async () => {
    const { server, port } = await startServer(asgiEcho, { accessLog: false });
    try {
      const ws = new UndiciWebSocket(`ws://127.0.0.1:${port}/`);
      ws.binaryType = "arraybuffer";
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const replies: unknown[] = [];
      const got = new Promise<void>((resolve) => {
        ws.onmessage = (event) => {
          replies.push(event.data instanceof ArrayBuffer ? [...new Uint8Array(event.data)] : event.data);
          if (replies.length === 2) resolve();
        };
      });
      ws.send("ping ✓");
      ws.send(new Uint8Array([7, 8, 9]));
      await got;
      assert.deepEqual(replies, ["ping ✓", [7, 8, 9]]);
      const closed = new Promise<number>((resolve) => {
        ws.onclose = (event) => resolve(event.code);
      });
      ws.close(1000);
      assert.equal(await closed, 1000);
    } finally {
      await server.close();
    }
  });
});

describe("examples/asgi_app.ts", () => {
  test("lifespan state, a request body, a streamed response", async () => {
    const { server, url, errors } = await startServer(asgiApp, { accessLog: false });
    try {
      assert.match(await (await fetch(url)).text(), /up since \d{4}-\d\d-\d\dT/);
      const echo = await fetch(`${url}/echo`, { method: "POST", body: "hello there" });
      assert.equal(await echo.text(), "You sent 11 bytes: hello there\n");
      const count = await fetch(`${url}/count`);
      assert.equal(count.headers.get("transfer-encoding"), "chunked");
      assert.equal(await count.text(), "1\n2\n3\n");
    } finally {
      await server.close();
    }
    assert.match(errors.text, /Application shutdown complete/);
  });
});
