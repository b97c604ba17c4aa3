/**
 * A server in its own process for measuring memory per connection: the
 * clients live in the test process, so their sockets do not count. GET /mem
 * collects garbage and answers the heap, external and RSS bytes; a WebSocket
 * on any other path is accepted (ASGI-style) and held idle.
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
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
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  const body = JSON.stringify({ heap: m.heapUsed, external: m.external + m.arrayBuffers, rss: m.rss });
  await send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] });
  await send({ type: "http.response.body", body: new TextEncoder().encode(body) });
}

const server = await serve(app, { port: 0, accessLog: false, keepAliveTimeout: 600_000 });
process.stdout.write(`${server.address.port}\n`);
