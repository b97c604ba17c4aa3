/** Benchmark peer: the same app on Node's own `http` module. */
import { createServer } from "node:http";

const BODY = Buffer.from("Hello, World!");
const port = Number(process.argv[2] ?? 0);

const server = createServer((req, res) => {
  if (req.method === "POST") {
    let size = 0;
    req.on("data", (chunk: Buffer) => (size += chunk.length));
    req.on("end", () => {
      const text = `received ${size} bytes`;
      res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(text) });
      res.end(text);
    });
    return;
  }
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": BODY.length });
  res.end(BODY);
});
server.keepAliveTimeout = 75_000;
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  if (address !== null && typeof address === "object") {
    process.stderr.write(`Listening on http://127.0.0.1:${address.port}\n`);
  }
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
