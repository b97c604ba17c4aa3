/**
 * Benchmark peer: the `ws` package's own server echoing every message, the
 * reference the WebSocket echo and capacity runs compare tsgi with. Plain
 * `new WebSocketServer({ port })` (perMessageDeflate is off by default), so
 * both servers do the same work per frame.
 */
import { WebSocketServer } from "ws";

const port = Number(process.argv[2] ?? 0);

const server = new WebSocketServer({ host: "127.0.0.1", port }, () => {
  const address = server.address();
  if (typeof address === "object" && address !== null)
    process.stderr.write(`Listening on http://127.0.0.1:${address.port}\n`);
});
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});
// Exit at once: server.close() would wait for every client, and the bench is done with them.
process.on("SIGTERM", () => process.exit(0));
