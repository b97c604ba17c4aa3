/**
 * A Fetch app that echoes every WebSocket message (text as text, binary as
 * binary) at `/`: the app WebSocket test suites and the echo benchmark run
 * against. Plain HTTP requests get a short hint.
 *
 *   tsgi examples/ws_echo.ts                            # ws://127.0.0.1:8000/
 *   tsgi --ws-per-message-deflate examples/ws_echo.ts   # also offers compression
 */

import { upgradeWebSocket } from "tsgi";

export default {
  fetch(request: Request): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("WebSocket echo: connect to ws://this-host/\n", {
        headers: { "Content-Type": "text/plain; charset=utf-8" },
      });
    }
    const { socket, response } = upgradeWebSocket(request);
    // ArrayBuffers go back out as they came in, without a Blob round trip.
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data as string | ArrayBuffer);
    return response;
  },
};
