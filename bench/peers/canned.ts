/**
 * Reference only, not an HTTP server: a node:net server that answers every
 * read with the same canned response, parsing nothing. It shows the floor
 * that Node's socket machinery and the kernel set for one request.
 */
import { createServer } from "node:net";

const RESPONSE = Buffer.from(
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!",
);
const server = createServer({ noDelay: true }, (socket) => {
  socket.on("data", () => socket.write(RESPONSE));
  socket.on("error", () => {});
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address();
  if (address !== null && typeof address === "object") {
    process.stderr.write(`Listening on http://127.0.0.1:${address.port}\n`);
  }
});
process.on("SIGTERM", () => process.exit(0));
