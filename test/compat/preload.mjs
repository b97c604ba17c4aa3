// Loaded with `node --import` before mocha by test/compat/run.ts for the
// tsgi target. It is tsgi's own user-facing preload, `tsgi/node/register`
// (the file next to TSGI_NODE_GATEWAY), which routes node:http's
// createServer and node:https's to tsgi's node:http-style gateway, so the
// vendored suites run their servers on tsgi unchanged while their clients
// stay node:http's. The gateway is imported before any test file loads, so
// createServer stays synchronous as the suites need.
//
// At exit it writes to COMPAT_PRELOAD_REPORT how many servers each side
// made, so the runner can show that the swap took effect.
import { existsSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";
import { pathToFileURL } from "node:url";

const gatewayPath = process.env.TSGI_NODE_GATEWAY;
const registerPath = gatewayPath?.replace(/index(\.[cm]?[jt]s)$/, "register$1");
if (!gatewayPath || !registerPath || !existsSync(gatewayPath) || !existsSync(registerPath)) {
  process.stderr.write(`tsgi node gateway not built yet: ${registerPath ?? "(TSGI_NODE_GATEWAY unset)"}\n`);
  process.exit(3);
}
const gateway = await import(pathToFileURL(gatewayPath).href);
const nodeHttp = http.createServer;
await import(pathToFileURL(registerPath).href);
if (http.createServer === nodeHttp) {
  process.stderr.write(`${registerPath} did not replace http.createServer\n`);
  process.exit(3);
}

const counts = { tsgi: 0, tsgiSecure: 0, nodeHttps: 0 };

// Count what the preload's replacements make (tsgi's classes, by instanceof).
const tsgiHttp = http.createServer;
http.createServer = function createServer(...args) {
  const server = tsgiHttp.apply(this, args);
  if (server instanceof gateway.Server) counts.tsgi++;
  return server;
};
const tsgiHttps = https.createServer;
https.createServer = function createServer(...args) {
  const server = tsgiHttps.apply(this, args);
  if (server instanceof gateway.SecureServer) counts.tsgiSecure++;
  else counts.nodeHttps++;
  return server;
};
syncBuiltinESMExports();

process.on("exit", () => {
  const report = process.env.COMPAT_PRELOAD_REPORT;
  if (report) writeFileSync(report, `${JSON.stringify(counts)}\n`);
});
