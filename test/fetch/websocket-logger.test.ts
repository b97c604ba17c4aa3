/**
 * No per-server state in module globals: two Fetch servers built in one
 * process, each with its own logger, log the errors their WebSocket
 * listeners throw to their own logger (the gateway once kept the logger in a
 * module global that the last server built overwrote).
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { upgradeWebSocket } from "../../src/gateways/fetch/websocket.ts";
import { startServer } from "../helpers.ts";

type Started = Awaited<ReturnType<typeof startServer>>;

/** A Fetch app whose socket listener throws an error naming `name` when sent "throw", else echoes. */
function app(name: string) {
  return {
    fetch(request: Request) {
      const { socket, response } = upgradeWebSocket(request);
      socket.addEventListener("message", (event) => {
        const data = (event as MessageEvent).data;
        if (data === "throw") throw new Error(`listener failure on ${name}`);
        socket.send(data as string);
      });
      return response;
    },
  };
}

let a: Started;
let b: Started;
before(async () => {
  a = await startServer(app("A"), { interface: "fetch", accessLog: false });
  b = await startServer(app("B"), { interface: "fetch", accessLog: false });
});
after(async () => {
  await a.server.close(500);
  await b.server.close(500);
});

/** Makes the listener on `s` throw, and waits until the socket echoed a later message (so the error is logged). */
async function throwOn(s: Started): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/`);
  await once(ws, "open");
  ws.send("throw");
  ws.send("after");
  const [data] = (await once(ws, "message")) as [Buffer];
  assert.equal(data.toString(), "after");
  ws.terminate();
}

test("each server logs its own sockets' listener errors to its own logger", async () => {
  await throwOn(a); // built first: a module-global logger would have been b's
  assert.match(a.errors.text, /error in a WebSocket event listener/);
  assert.match(a.errors.text, /listener failure on A/);
  assert.doesNotMatch(b.errors.text, /listener failure/);

  await throwOn(b);
  assert.match(b.errors.text, /listener failure on B/);
  assert.doesNotMatch(b.errors.text, /listener failure on A/);
  assert.doesNotMatch(a.errors.text, /listener failure on B/);
});
