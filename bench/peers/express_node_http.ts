/** Benchmark peer: the Express hello world (bench/apps/hello_express.ts) on Node's own `http` module. */
import { createServer } from "node:http";
import app from "../apps/hello_express.ts";

const port = Number(process.argv[2] ?? 0);

const server = createServer(app);
server.keepAliveTimeout = 75_000;
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  if (address !== null && typeof address === "object") {
    process.stderr.write(`Listening on http://127.0.0.1:${address.port}\n`);
  }
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
