/**
 * Libraries that attach to an `http.Server` made but not listened, served
 * by tsgi: socket.io (with a real socket.io-client, over the websocket
 * transport and over long-polling that then upgrades) and ws's
 * `WebSocketServer({ server })` (with a real `ws` client). The server hears
 * `'listening'` once tsgi listens, answers tsgi's address, and hears
 * `'close'` at shutdown; through `serve()` and through the built CLI.
 */

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { Server as IOServer, type Socket as IOSocket } from "socket.io";
import { io as connectIO, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { WebSocket, WebSocketServer } from "ws";
import { LifespanError } from "../../src/gateways/lifespan.ts";
import { serve } from "../../src/serve.ts";
import type { Server } from "../../src/server/server.ts";
import { type CliProcess, startCli } from "../helpers.ts";
import { deferred } from "./support.ts";

const quiet = { port: 0, host: "127.0.0.1", accessLog: false, logLevel: "critical" } as const;

/** A socket.io client that has connected (no reconnection: a test sees every disconnect). */
async function client(url: string, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<Socket> {
  const socket = connectIO(url, { reconnection: false, forceNew: true, ...options });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  return socket;
}

/** Resolves with the reason of `socket`'s next disconnect. */
function disconnected(socket: Socket | IOSocket): Promise<string> {
  return new Promise((resolve) => socket.once("disconnect", (reason: string) => resolve(reason)));
}

describe("socket.io attached to an http.Server served by serve()", () => {
  let httpServer: http.Server;
  let io: IOServer;
  let server: Server;
  const events: string[] = [];
  /** The server side of each connection, by the client's id. */
  const sockets = new Map<string, IOSocket>();
  const connected = new Map<string, ReturnType<typeof deferred<IOSocket>>>();

  /** The server side of `socket`, once the server has seen it connect. */
  function serverSide(socket: Socket): Promise<IOSocket> {
    const id = socket.id!;
    let d = connected.get(id);
    if (d === undefined) {
      d = deferred<IOSocket>();
      connected.set(id, d);
    }
    const known = sockets.get(id);
    if (known !== undefined) d.resolve(known);
    return d.promise;
  }

  before(async () => {
    httpServer = http.createServer((_req, res) => res.end("plain route"));
    io = new IOServer(httpServer);
    io.on("connection", (socket) => {
      (socket.data as { first: string }).first = socket.conn.transport.name;
      sockets.set(socket.id, socket);
      connected.get(socket.id)?.resolve(socket);
      socket.on("echo", (message: unknown, ack: (v: unknown) => void) =>
        ack({ echoed: message, transport: socket.conn.transport.name }),
      );
      socket.on("shout", (message: unknown) => io.emit("news", message));
    });
    httpServer.on("listening", () => events.push(`listening ${JSON.stringify(httpServer.address())}`));
    httpServer.on("close", () => events.push("close"));
    server = await serve(httpServer, quiet);
    // serve() resolves after the server heard 'listening', with tsgi's address.
    assert.deepEqual(events, [`listening ${JSON.stringify(server.address)}`]);
  });
  after(async () => {
    await server.close(2000);
    assert.equal(events.at(-1), "close");
  });

  test("the http.Server's own 'request' listener still answers (engine.io wraps it)", async () => {
    const r = await fetch(`${server.url}/hello`);
    assert.equal(await r.text(), "plain route");
  });

  test("websocket transport: connect, emit with ack, disconnect", async () => {
    const socket = await client(server.url, { transports: ["websocket"] });
    const remote = await serverSide(socket);
    assert.equal((remote.data as { first: string }).first, "websocket");
    assert.deepEqual(await socket.timeout(10_000).emitWithAck("echo", { n: 1 }), {
      echoed: { n: 1 },
      transport: "websocket",
    });
    const gone = disconnected(remote);
    socket.disconnect();
    assert.equal(await gone, "client namespace disconnect");
  });

  test("default transports: long-polling first, then the upgrade to websocket", async () => {
    const socket = await client(server.url);
    const remote = await serverSide(socket);
    assert.equal((remote.data as { first: string }).first, "polling");
    if (remote.conn.transport.name !== "websocket") {
      await new Promise((resolve) => remote.conn.once("upgrade", resolve));
    }
    assert.equal(socket.io.engine.transport.name, "websocket");
    const reply = await socket.timeout(10_000).emitWithAck("echo", "after upgrade");
    assert.deepEqual(reply, { echoed: "after upgrade", transport: "websocket" });
    const gone = disconnected(remote);
    socket.disconnect();
    assert.equal(await gone, "client namespace disconnect");
  });

  test("long-polling only: every message rides on held GET and POST requests", async () => {
    const socket = await client(server.url, { transports: ["polling"], upgrade: false });
    const remote = await serverSide(socket);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await socket.timeout(10_000).emitWithAck("echo", i), {
        echoed: i,
        transport: "polling",
      });
    }
    // The server pushes too: a held poll carries it.
    const news = new Promise((resolve) => socket.once("news", resolve));
    remote.emit("news", "pushed");
    assert.equal(await news, "pushed");
    const gone = disconnected(remote);
    socket.disconnect();
    assert.equal(await gone, "client namespace disconnect");
  });

  test("a broadcast reaches two clients, one on each transport", async () => {
    const a = await client(server.url, { transports: ["websocket"] });
    const b = await client(server.url, { transports: ["polling"], upgrade: false });
    const both = Promise.all([
      new Promise((resolve) => a.once("news", resolve)),
      new Promise((resolve) => b.once("news", resolve)),
    ]);
    a.emit("shout", "to everyone");
    assert.deepEqual(await both, ["to everyone", "to everyone"]);
    const gone = [disconnected(await serverSide(a)), disconnected(await serverSide(b))];
    a.disconnect();
    b.disconnect();
    assert.deepEqual(await Promise.all(gone), ["client namespace disconnect", "client namespace disconnect"]);
  });

  test("the server disconnecting a client: the client hears it", async () => {
    const socket = await client(server.url, { transports: ["websocket"] });
    const gone = disconnected(socket);
    (await serverSide(socket)).disconnect(true);
    assert.equal(await gone, "io server disconnect");
  });
});

describe("socket.io attached to an http.Server served by the CLI", () => {
  let cli: CliProcess;
  let url: string;

  before(async () => {
    cli = await startCli(["--port", "0", "--no-access-log", "test/fixtures/apps/node/socketio_app.mjs"], {
      timeoutMs: 30_000,
    });
    url = `http://127.0.0.1:${cli.port}`;
  });
  after(() => {
    if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
  });

  test("'listening' came before the Listening on line, with tsgi's address", () => {
    const err = cli.stderr();
    const mark = `fixture: listening {"address":"127.0.0.1","family":"IPv4","port":${cli.port}}`;
    assert.ok(err.includes(mark), err);
    assert.ok(err.indexOf(mark) < err.indexOf("Listening on"), err);
  });

  test("a plain route, a websocket client and a polling client that upgrades", async () => {
    assert.equal(await (await fetch(`${url}/`)).text(), "plain route\n");
    const ws = await client(url, { transports: ["websocket"] });
    const polling = await client(url);
    assert.deepEqual(await ws.timeout(10_000).emitWithAck("echo", "w"), {
      echoed: "w",
      transport: "websocket",
    });
    const r = (await polling.timeout(10_000).emitWithAck("echo", "p")) as { echoed: string };
    assert.equal(r.echoed, "p");
    const both = Promise.all([
      new Promise((resolve) => ws.once("news", resolve)),
      new Promise((resolve) => polling.once("news", resolve)),
    ]);
    polling.emit("shout", "hello all");
    assert.deepEqual(await both, ["hello all", "hello all"]);
    polling.disconnect();
    ws.disconnect();
    assert.match(cli.stderr(), /fixture: connection over websocket/);
    assert.match(cli.stderr(), /fixture: connection over polling/);
  });

  test("SIGTERM: the server hears 'close' (engine.io closes its clients), exit 0", async () => {
    const socket = await client(url, { transports: ["websocket"] });
    const gone = disconnected(socket);
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    assert.equal(await gone, "transport close");
    const err = cli.stderr();
    assert.ok(err.indexOf("fixture: close") > err.indexOf("SIGTERM: shutting down"), err);
  });
});

describe("ws's WebSocketServer({ server }) on an http.Server served by serve()", () => {
  let httpServer: http.Server;
  let wss: WebSocketServer;
  let server: Server;
  const events: string[] = [];

  before(async () => {
    httpServer = http.createServer((_req, res) => res.end("not a websocket"));
    wss = new WebSocketServer({ server: httpServer });
    wss.on("listening", () => events.push("wss listening"));
    httpServer.on("close", () => events.push("close"));
    wss.on("connection", (ws) => {
      ws.on("message", (data, isBinary) => {
        if (!isBinary && String(data) === "bye") ws.close(4000, "bye to you");
        else ws.send(data, { binary: isBinary });
      });
    });
    server = await serve(httpServer, quiet);
  });
  after(async () => {
    await server.close(2000);
  });

  test("ws heard 'listening' (forwarded from the server) and wss.address() is tsgi's", () => {
    assert.deepEqual(events, ["wss listening"]);
    assert.deepEqual(wss.address(), server.address);
  });

  /** An open client connection. */
  async function open(): Promise<WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${server.address.port}/`);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return ws;
  }

  test("echo of a text message and of a 1 MiB binary message", async () => {
    const ws = await open();
    const text = new Promise<[Buffer, boolean]>((resolve) =>
      ws.once("message", (d, b) => resolve([d as Buffer, b])),
    );
    ws.send("héllo");
    const [t, tBinary] = await text;
    assert.equal(tBinary, false);
    assert.equal(t.toString("utf8"), "héllo");

    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 10)) & 0xff;
    const binary = new Promise<[Buffer, boolean]>((resolve) =>
      ws.once("message", (d, b) => resolve([d as Buffer, b])),
    );
    ws.send(big);
    const [b, bBinary] = await binary;
    assert.equal(bBinary, true);
    assert.ok(b.equals(big));
    ws.close(1000);
    await new Promise((resolve) => ws.once("close", resolve));
  });

  test("the server's close code and reason reach the client", async () => {
    const ws = await open();
    const closed = new Promise<[number, string]>((resolve) =>
      ws.once("close", (code, reason) => resolve([code, reason.toString()])),
    );
    ws.send("bye");
    assert.deepEqual(await closed, [4000, "bye to you"]);
  });

  test("a plain request to the same server still goes to its 'request' listener", async () => {
    assert.equal(await (await fetch(server.url)).text(), "not a websocket");
  });
});

test("the http.Server hears 'close' at server.close(), after the drain", async () => {
  const events: string[] = [];
  const arrived = deferred();
  const release = deferred();
  const httpServer = http.createServer((_req, res) => {
    arrived.resolve();
    res.on("finish", () => events.push("answered"));
    void release.promise.then(() => res.end("late"));
  });
  httpServer.on("listening", () => events.push("listening"));
  httpServer.on("close", () => events.push("close"));
  const server = await serve(httpServer, quiet);
  assert.deepEqual(events, ["listening"]);
  const inFlight = fetch(server.url).then((r) => r.text());
  await arrived.promise;
  const closing = server.close();
  release.resolve();
  assert.equal(await inFlight, "late");
  await closing;
  assert.deepEqual(events, ["listening", "answered", "close"]);
  assert.equal(httpServer.listening, false);
});

test("a 'listening' listener that throws: serve() rejects, and tsgi and the server are closed", async () => {
  const httpServer = http.createServer();
  let closed = false;
  httpServer.on("listening", () => {
    throw new Error("cannot attach");
  });
  httpServer.on("close", () => {
    closed = true;
  });
  await assert.rejects(
    serve(httpServer, quiet),
    (err: unknown) =>
      err instanceof LifespanError && /'listening' listener threw: cannot attach/.test(err.message),
  );
  assert.equal(closed, true);
  assert.equal(httpServer.listening, false);
});
