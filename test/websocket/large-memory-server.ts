/**
 * A server in its own process for measuring the memory a large WebSocket
 * message holds while it arrives (test/websocket/large.test.ts): the client
 * lives in the test process, so its buffers do not count. GET /mem collects
 * garbage and answers the heap, external (which includes ArrayBuffers) and RSS bytes; a
 * WebSocket on any other path echoes, through the ASGI-style gateway or,
 * with the argument `fetch`, the Fetch gateway (examples/ws_echo.ts).
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import echoFetch from "../../examples/ws_echo.ts";
import type { Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
import { serve } from "../../src/serve.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function memory(): string {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return JSON.stringify({ heap: m.heapUsed, buffers: m.external, rss: m.rss });
}

async function app(scope: Scope, receive: Receive, send: Send): Promise<void> {
  if (scope.type === "websocket") {
    await receive(); // websocket.connect
    await send({ type: "websocket.accept" });
    for (;;) {
      const event = await receive();
      if (event.type !== "websocket.receive") return;
      if (typeof event.text === "string") await send({ type: "websocket.send", text: event.text });
      else await send({ type: "websocket.send", bytes: event.bytes! });
    }
  }
  if (scope.type !== "http") return;
  await send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] });
  await send({ type: "http.response.body", body: new TextEncoder().encode(memory()) });
}

const fetchApp = {
  fetch(request: Request): Response | Promise<Response> {
    if (request.headers.get("upgrade") === "websocket") return echoFetch.fetch(request);
    return new Response(memory(), { headers: { "content-type": "application/json" } });
  },
};

const fetchMode = process.argv[2] === "fetch";
const server = await serve(fetchMode ? fetchApp : app, {
  host: "127.0.0.1",
  port: 0,
  accessLog: false,
  interface: fetchMode ? "fetch" : "asgi",
  lifespan: "off",
});
process.stdout.write(`${server.address.port}\n`);
