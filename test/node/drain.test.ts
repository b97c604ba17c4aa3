/**
 * Graceful drain and sockets the app took over: as node:http's
 * `server.close()` waits for upgraded sockets, tsgi's drain waits for a
 * socket handed to an `'upgrade'` listener until the app closes it, and
 * destroys it when the graceful timeout runs out.
 */

import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import type { Socket } from "node:net";
import { test } from "node:test";
import { serve } from "../../src/serve.ts";
import { deferred, open } from "./support.ts";

const UPGRADE = "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n";

/** A server whose 'upgrade' listener keeps the socket, speaking a line echo protocol on it. */
async function upgradeServer(gracefulTimeout: number) {
  const nodeServer = createHttpServer();
  const taken = deferred<Socket>();
  nodeServer.on("upgrade", (_req, socket: Socket) => {
    socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n");
    socket.on("data", (d) => socket.write(d));
    socket.on("error", () => {});
    taken.resolve(socket);
  });
  const server = await serve(nodeServer, {
    port: 0,
    accessLog: false,
    logLevel: "critical",
    interface: "node",
    gracefulTimeout,
  });
  return { server, taken: taken.promise, nodeServer };
}

test("drain waits for a socket the app took until the app closes it", async () => {
  const { server, taken } = await upgradeServer(30_000);
  const client = await open(server.address.port);
  client.write(UPGRADE);
  const appSide = await taken;
  let closed = false;
  const closing = server.close().then(() => {
    closed = true;
  });
  // The app still speaks on its socket while the server drains.
  const echoed = deferred<string>();
  let text = "";
  client.setEncoding("latin1");
  client.on("data", (d: string) => {
    text += d;
    if (text.endsWith("ping")) echoed.resolve(text);
  });
  client.write("ping");
  assert.match(await echoed.promise, /101 Switching Protocols[\s\S]*ping$/);
  assert.equal(closed, false, "the drain must not finish while the app's socket is open");
  assert.equal(server.connectionCount, 1);
  appSide.end();
  await closing;
  assert.equal(closed, true);
  client.destroy();
});

test("the graceful timeout destroys a socket the app never closes", async () => {
  const { server, taken } = await upgradeServer(300);
  const client = await open(server.address.port);
  client.write(UPGRADE);
  await taken;
  const clientClosed = deferred();
  client.on("close", () => clientClosed.resolve());
  client.on("error", () => {});
  client.resume();
  await server.close();
  await clientClosed.promise;
  assert.equal(server.connectionCount, 0);
});

// Were 'close' to wait for the taken socket, the close would hang until the
// 10-minute graceful timeout, and the test fail by its own timeout.
test("the app hears 'close' once HTTP is drained, and closes its taken sockets then", {
  timeout: 60_000,
}, async () => {
  const { server, taken, nodeServer } = await upgradeServer(600_000);
  const client = await open(server.address.port);
  client.on("error", () => {});
  client.resume();
  client.write(UPGRADE);
  const appSide = await taken;
  // As engine.io does: the app ends its WebSockets when its server closes.
  nodeServer.once("close", () => appSide.end());
  const clientClosed = deferred();
  client.on("close", () => clientClosed.resolve());
  await server.close();
  await clientClosed.promise;
  assert.equal(server.connectionCount, 0);
});
