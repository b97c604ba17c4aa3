/**
 * Reference only, not an HTTP server: a node:net server that answers each
 * request head in a read with the same canned response (all of a read's
 * answers in one write), parsing nothing. It shows the floor that Node's
 * socket stream and the kernel set for one request.
 */
import { createServer } from "node:net";
import { HeadCounter, responses } from "./canned-count.ts";

const server = createServer({ noDelay: true }, (socket) => {
  const counter = new HeadCounter();
  socket.on("data", (chunk: Buffer) => {
    const n = counter.count(chunk);
    if (n > 0) socket.write(responses(n));
  });
  socket.on("error", () => {});
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = server.address();
  if (address !== null && typeof address === "object") {
    process.stderr.write(`Listening on http://127.0.0.1:${address.port}\n`);
  }
});
process.on("SIGTERM", () => process.exit(0));
