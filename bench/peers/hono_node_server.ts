/** Benchmark peer: the Hono hello world (bench/apps/hello_hono.ts) on @hono/node-server. */

import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import app from "../apps/hello_hono.ts";

const port = Number(process.argv[2] ?? 0);

const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info) => {
  process.stderr.write(`Listening on http://127.0.0.1:${info.port}\n`);
}) as Server;
server.keepAliveTimeout = 75_000;
process.on("SIGTERM", () => server.close(() => process.exit(0)));
