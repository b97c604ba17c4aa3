// bench:memory peer: the hello world on Node's own http module, plain JavaScript run by plain `node`.
import { createServer } from "node:http";

const BODY = Buffer.from("Hello, World!");
const server = createServer((_req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": BODY.length });
  res.end(BODY);
});
server.keepAliveTimeout = 75_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stderr.write(`Listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
