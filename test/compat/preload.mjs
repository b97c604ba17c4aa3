// Loaded with `node --import` before mocha by test/compat/run.ts for the
// tsgi target: routes node:http's createServer (and node:https's, when the
// gateway offers createSecureServer) to tsgi's node:http-style gateway,
// so the vendored suites run their servers on tsgi unchanged while their
// clients stay node:http's. The gateway is imported before any test file
// loads, so createServer stays synchronous as the suites need.
//
// At exit it writes to COMPAT_PRELOAD_REPORT how many servers each side
// made, so the runner can show that the swap took effect.
import { existsSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";
import { pathToFileURL } from "node:url";

const gatewayPath = process.env.TSGI_NODE_GATEWAY;
if (!gatewayPath || !existsSync(gatewayPath)) {
  process.stderr.write(`tsgi node gateway not built yet: ${gatewayPath ?? "(TSGI_NODE_GATEWAY unset)"}\n`);
  process.exit(3);
}
const gateway = await import(pathToFileURL(gatewayPath).href);
if (typeof gateway.createServer !== "function") {
  process.stderr.write(`${gatewayPath} does not export createServer\n`);
  process.exit(3);
}

const counts = { tsgi: 0, tsgiSecure: 0, nodeHttps: 0 };

http.createServer = function createServer(...args) {
  counts.tsgi++;
  return gateway.createServer(...args);
};

const nodeHttpsCreateServer = https.createServer;
https.createServer = function createServer(...args) {
  if (typeof gateway.createSecureServer === "function") {
    counts.tsgiSecure++;
    return gateway.createSecureServer(...args);
  }
  counts.nodeHttps++;
  return nodeHttpsCreateServer.apply(this, args);
};

syncBuiltinESMExports();

process.on("exit", () => {
  const report = process.env.COMPAT_PRELOAD_REPORT;
  if (report) writeFileSync(report, `${JSON.stringify(counts)}\n`);
});
