/**
 * An ASGI-style app that echoes every WebSocket message at `/` (text as
 * text, binary as binary), the ASGI twin of examples/ws_echo.ts. Plain HTTP
 * requests get a short hint. It reads like its Python counterpart: one
 * function, the scope's type decides, events in and events out.
 *
 *   tsgi examples/asgi_echo.ts          # --interface auto sees three parameters
 *   npx wscat -c ws://127.0.0.1:8000/   # or any WebSocket client
 *   curl -i http://127.0.0.1:8000/
 */

import type { Receive, Scope, Send } from "tsgi/asgi";

const HINT = new TextEncoder().encode("WebSocket echo: connect to ws://this-host/\n");

export default async function app(scope: Scope, receive: Receive, send: Send): Promise<void> {
  if (scope.type === "http") {
    await send({
      type: "http.response.start",
      status: 200,
      headers: [["content-type", "text/plain; charset=utf-8"]],
    });
    await send({ type: "http.response.body", body: HINT });
    return;
  }
  if (scope.type !== "websocket") return; // no lifespan work to do: "unsupported" is fine

  await receive(); // websocket.connect
  if (scope.path !== "/") {
    await send({ type: "websocket.close" }); // refused: HTTP 403
    return;
  }
  await send({ type: "websocket.accept" });
  for (;;) {
    const event = await receive();
    if (event.type === "websocket.disconnect") return;
    if (event.type !== "websocket.receive") continue;
    // Exactly one of text and bytes is set: send back the same kind.
    if (event.text !== null) await send({ type: "websocket.send", text: event.text });
    else await send({ type: "websocket.send", bytes: event.bytes });
  }
}
