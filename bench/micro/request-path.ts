/**
 * Microbenchmark of tsgi's own per-request work, without the kernel: an
 * HttpConnection on a stand-in socket is fed the same keep-alive request over and
 * over, through each gateway. Prints ns per request; run under
 * `node --cpu-prof` to see where they go.
 * Run: node --import tsx bench/micro/request-path.ts [wsgi|fetch|node|express] [N]
 * (`node`: bench/apps/hello_node.ts on the node:http-style gateway;
 * `express`: bench/apps/hello_express.ts. Those two yield to the event loop
 * every 64 requests, as node's 'finish' and 'close' come on later ticks.)
 */

import type { Socket } from "node:net";
import { fetchGateway } from "../../src/gateways/fetch/gateway.ts";
import { nodeGateway } from "../../src/gateways/node/gateway.ts";
import { wsgiGateway } from "../../src/gateways/wsgi/gateway.ts";
import { HttpConnection } from "../../src/server/connection.ts";
import { Logger } from "../../src/server/log.ts";
import { resolveOptions } from "../../src/server/options.ts";
import { StandInSocket } from "./stand-in-socket.ts";

const kind = process.argv[2] ?? "fetch";
const N = Number(process.argv[3] ?? 1_000_000);
const logger = new Logger("error");
const nodeStyle = kind === "node" || kind === "express";
const handler = nodeStyle
  ? nodeGateway(
      kind === "node"
        ? (await import("../apps/hello_node.ts")).default
        : ((await import("../apps/hello_express.ts")).default as never),
    )
  : kind === "wsgi"
    ? wsgiGateway(
        (_environ, startResponse) => {
          startResponse("200 OK", [["Content-Type", "text/plain"]]);
          return ["Hello, World!"];
        },
        { logger },
      )
    : fetchGateway({
        fetch: () => new Response("Hello, World!", { headers: { "Content-Type": "text/plain" } }),
      });

const host = {
  options: resolveOptions({ accessLog: false }),
  logger,
  handler,
  shuttingDown: false,
  webSocketCount: 0,
  tracer: null,
  proxyTrust: null,
  connectionClosed() {},
  connectionUpgraded() {},
  sessionClosed() {},
};
const socket = new StandInSocket();
new HttpConnection(socket as unknown as Socket, host);
const request = Buffer.from(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n",
);

for (let round = 0; round < 3; round++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    socket.emit("data", request);
    if (nodeStyle && i % 64 === 63) await new Promise(setImmediate);
  }
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${kind}: ${ns.toFixed(0)} ns per request (${socket.bytes} bytes written)`);
}
