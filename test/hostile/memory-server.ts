/**
 * A server in its own process for measuring memory per connection: the
 * clients live in the test process, so their sockets do not count. GET /mem
 * collects garbage and answers the heap, external and RSS bytes; any other
 * request gets a 204 at once; a WebSocket on any path is accepted
 * (ASGI-style, or with the argument `fetch` through a Fetch app's
 * upgradeWebSocket) and held idle.
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
import { upgradeWebSocket } from "../../src/gateways/fetch/websocket.ts";
import { serve } from "../../src/serve.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function app(scope: Scope, receive: Receive, send: Send): Promise<void> {
  if (scope.type === "websocket") {
    await receive(); // websocket.connect
    await send({ type: "websocket.accept" });
    for (;;) {
      const event = await receive();
      if (event.type === "websocket.disconnect") return;
    }
  }
  if (scope.type !== "http") return;
  if (scope.path !== "/mem") {
    // An idle keep-alive connection's one request: answered without the
    // three full collections, which 300 connections would turn into 900.
    await send({ type: "http.response.start", status: 204, headers: [] });
    await send({ type: "http.response.body" });
    return;
  }
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  const body = JSON.stringify({ heap: m.heapUsed, external: m.external + m.arrayBuffers, rss: m.rss });
  await send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] });
  await send({ type: "http.response.body", body: new TextEncoder().encode(body) });
}

/** The same, as a Fetch app whose WebSockets are the `upgradeWebSocket()` sockets of examples/ws_echo.ts. */
const fetchApp = {
  fetch(request: Request): Response {
    if (request.headers.get("upgrade") === "websocket") {
      const { socket, response } = upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(event.data as string);
      return response;
    }
    if (new URL(request.url).pathname !== "/mem") return new Response(null, { status: 204 });
    for (let i = 0; i < 3; i++) gc();
    const m = process.memoryUsage();
    return Response.json({ heap: m.heapUsed, external: m.external + m.arrayBuffers, rss: m.rss });
  },
};

const fetchMode = process.argv[2] === "fetch";
const server = await serve(fetchMode ? fetchApp : app, {
  port: 0,
  accessLog: false,
  keepAliveTimeout: 600_000,
  interface: fetchMode ? "fetch" : "asgi",
  lifespan: "off",
});
process.stdout.write(`${server.address.port}\n`);
