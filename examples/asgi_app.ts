/**
 * A small ASGI-style HTTP app: lifespan state set at startup and read by
 * every request, a request body read in `http.request` events, and a
 * response streamed in `http.response.body` events with `more_body`.
 *
 *   tsgi examples/asgi_app.ts
 *   curl -i http://127.0.0.1:8000/
 *   curl -i -d 'hello there' http://127.0.0.1:8000/echo
 *   curl -N http://127.0.0.1:8000/count      # three lines, 300 ms apart
 */

import type { HTTPScope, LifespanScope, Receive, Scope, Send } from "tsgi/asgi";

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What startup leaves in the lifespan state; every request sees a copy of it. */
interface AppState {
  startedAt: string;
}

async function lifespan(scope: LifespanScope, receive: Receive, send: Send) {
  await receive(); // lifespan.startup: open pools, warm caches, ...
  scope.state.startedAt = new Date().toISOString();
  await send({ type: "lifespan.startup.complete" });
  await receive(); // lifespan.shutdown: every connection is closed by now
  await send({ type: "lifespan.shutdown.complete" });
}

async function text(send: Send, status: number, body: string) {
  await send({
    type: "http.response.start",
    status,
    headers: [["content-type", "text/plain; charset=utf-8"]],
  });
  await send({ type: "http.response.body", body: encoder.encode(body) });
}

/** Reads the whole request body: concatenate `http.request` events until `more_body` is false. */
async function readBody(receive: Receive): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const event = await receive();
    if (event.type !== "http.request") return new Uint8Array(0); // http.disconnect: the client left
    parts.push(event.body);
    if (!event.more_body) return Buffer.concat(parts);
  }
}

async function http(scope: HTTPScope, receive: Receive, send: Send) {
  const state = scope.state as unknown as AppState;
  switch (scope.path) {
    case "/":
      return text(send, 200, `Hello from an ASGI-style app, up since ${state.startedAt}\n`);
    case "/echo": {
      const body = await readBody(receive);
      return text(send, 200, `You sent ${body.length} bytes: ${Buffer.from(body).toString("utf8")}\n`);
    }
    case "/count":
      await send({ type: "http.response.start", status: 200, headers: [["content-type", "text/plain"]] });
      for (let i = 1; i <= 3; i++) {
        await send({ type: "http.response.body", body: encoder.encode(`${i}\n`), more_body: true });
        await sleep(300);
      }
      await send({ type: "http.response.body" }); // more_body defaults to false: the end
      return;
    default:
      return text(send, 404, "Not found\n");
  }
}

export default async function app(scope: Scope, receive: Receive, send: Send): Promise<void> {
  if (scope.type === "lifespan") return lifespan(scope, receive, send);
  if (scope.type === "http") return http(scope, receive, send);
  // A WebSocket: refuse it (HTTP 403). See examples/asgi_echo.ts for one that accepts.
  await receive();
  await send({ type: "websocket.close" });
}
