/**
 * Benchmark app: the hello world in Hono, served both by tsgi's Fetch gateway
 * and by @hono/node-server (bench/peers/hono_node_server.ts).
 */
import { Hono } from "hono";

const app = new Hono();

app.get("/", (c) => c.text("Hello, World!"));

export default app;
