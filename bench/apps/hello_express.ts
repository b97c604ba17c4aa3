/**
 * Benchmark app: the hello world in Express 5, served both by tsgi (detected
 * as node-style) and by Node's own `http` module
 * (bench/peers/express_node_http.ts).
 */
import express from "express";

const app = express();

app.get("/", (_req, res) => {
  res.send("Hello, World!");
});

export default app;
