/**
 * CONNECT through the node:http-style gateway: with a `'connect'` listener
 * the request reaches it as node:http hands it over (an IncomingMessage,
 * the raw socket, the bytes after the head), so a proxy written like Node's
 * docs example tunnels for real clients (a raw socket, node's own
 * `http.request({ method: "CONNECT" })`, curl `-p -x`); without one, 501;
 * a malformed CONNECT still gets its 400 first.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  request as httpRequest,
  IncomingMessage,
} from "node:http";
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { createServer as createTsgiServer } from "../../src/gateways/node/index.ts";
import { serve } from "../../src/serve.ts";
import type { Server } from "../../src/server/server.ts";
import { CURL, needs } from "../needs.ts";
import { deferred, raw } from "./support.ts";

/** What the proxy's listener saw of the last CONNECT. */
interface Seen {
  method: string;
  url: string;
  isMessage: boolean;
  host: string | undefined;
  head: string;
}

/** Node's docs example: a `'connect'` listener that opens the tunnel to `req.url`. */
function tunnel(seen: Seen[], sockets: Set<Socket>) {
  return (req: IncomingMessage, clientSocket: Socket, head: Buffer): void => {
    seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      isMessage: req instanceof IncomingMessage,
      host: req.headers.host,
      head: head.toString("latin1"),
    });
    sockets.add(clientSocket);
    clientSocket.on("error", () => {});
    const { port, hostname } = new URL(`http://${req.url}`);
    const serverSocket = connect(Number(port || 80), hostname, () => {
      clientSocket.write("HTTP/1.1 200 Connection Established\r\nProxy-agent: tsgi-test\r\n\r\n");
      serverSocket.write(head);
      serverSocket.pipe(clientSocket);
      clientSocket.pipe(serverSocket);
    });
    sockets.add(serverSocket);
    serverSocket.on("error", () => clientSocket.destroy());
  };
}

/** Reads from `socket` until `text` has arrived; resolves with everything read so far. */
function readUntil(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const onData = (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes(text)) {
        socket.off("data", onData);
        resolve(got);
      }
    };
    socket.on("data", onData);
    socket.once("close", () =>
      reject(new Error(`closed before ${JSON.stringify(text)}; got ${JSON.stringify(got)}`)),
    );
  });
}

describe("CONNECT to an http.Server with a 'connect' listener, served by tsgi", () => {
  let echo: ReturnType<typeof createNetServer>;
  let echoPort: number;
  let target: HttpServer;
  let targetPort: number;
  let app: HttpServer;
  let server: Server;
  let port: number;
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const listener = tunnel(seen, sockets);

  before(async () => {
    echo = createNetServer((s) => {
      sockets.add(s);
      s.on("error", () => {});
      s.pipe(s);
    });
    echo.listen(0, "127.0.0.1");
    await once(echo, "listening");
    echoPort = (echo.address() as AddressInfo).port;
    target = createHttpServer((_req, res) => res.end("through the tunnel\n"));
    target.listen(0, "127.0.0.1");
    await once(target, "listening");
    targetPort = (target.address() as AddressInfo).port;

    // Made, never listened: tsgi detects it and emits on it.
    app = createHttpServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.end("plain request\n");
    });
    app.on("connect", listener);
    server = await serve(app, { port: 0, accessLog: false, logLevel: "critical" });
    port = server.address.port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await server.close(200);
    target.close();
    echo.close();
  });

  test("a raw client: 200 from the listener, the bytes after the head reach the target, then both ways", async () => {
    const socket = connect(port, "127.0.0.1");
    sockets.add(socket);
    // The head and the first tunnel bytes in one write: they must reach the listener as `head`.
    socket.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\n\r\nearly bytes|`);
    const first = await readUntil(socket, "early bytes|");
    assert.match(first, /^HTTP\/1\.1 200 Connection Established\r\nProxy-agent: tsgi-test\r\n\r\n/);
    socket.write("ping through the tunnel");
    const second = await readUntil(socket, "ping through the tunnel");
    assert.equal(second, "ping through the tunnel");
    socket.destroy();
    const last = seen.at(-1)!;
    assert.deepEqual(last, {
      method: "CONNECT",
      url: `127.0.0.1:${echoPort}`,
      isMessage: true,
      host: `127.0.0.1:${echoPort}`,
      head: "early bytes|",
    });
    assert.deepEqual(requests, [], "CONNECT is not a 'request'");
  });

  test("node's own client, http.request({ method: 'CONNECT' }), tunnels an HTTP request", async () => {
    const req = httpRequest({ host: "127.0.0.1", port, method: "CONNECT", path: `127.0.0.1:${targetPort}` });
    req.end();
    const [res, socket] = (await once(req, "connect")) as [IncomingMessage, Socket];
    sockets.add(socket);
    assert.equal(res.statusCode, 200);
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${targetPort}\r\nConnection: close\r\n\r\n`);
    const reply = await readUntil(socket, "through the tunnel\n");
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    socket.destroy();
  });

  test("curl -p -x (proxytunnel) fetches through the tunnel", { skip: needs(CURL) }, async () => {
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile(
        "curl",
        [
          "-sS",
          "--max-time",
          "30",
          "-p",
          "-x",
          `http://127.0.0.1:${port}`,
          `http://127.0.0.1:${targetPort}/`,
        ],
        (err, stdout) => (err ? reject(err) : resolve({ stdout })),
      ),
    );
    assert.equal(stdout, "through the tunnel\n");
    assert.equal(seen.at(-1)!.url, `127.0.0.1:${targetPort}`);
  });

  test("a malformed CONNECT gets its 400 before any listener", async () => {
    const before = seen.length;
    for (const input of [
      "CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", // no port: not authority-form
      "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n",
      "CONNECT a:443 HTTP/1.1\r\n\r\n", // no Host
    ]) {
      const reply = await raw(port, input, 10_000);
      assert.match(reply, /^HTTP\/1\.1 400 /, input);
    }
    assert.equal(seen.length, before);
  });

  test("a CONNECT with content is refused with 400 (RFC 9110 §9.3.6)", async () => {
    const before = seen.length;
    const reply = await raw(
      port,
      `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\nContent-Length: 5\r\n\r\nhello`,
      10_000,
    );
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.equal(seen.length, before);
  });

  test("a pipelined GET before the CONNECT is answered first, on the same connection", async () => {
    const socket = connect(port, "127.0.0.1");
    sockets.add(socket);
    socket.write(
      `GET /first HTTP/1.1\r\nHost: a\r\n\r\nCONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: a\r\n\r\nafter|`,
    );
    const got = await readUntil(socket, "after|");
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n[\s\S]*plain request\n/);
    assert.match(got, /plain request\nHTTP\/1\.1 200 Connection Established\r\n[\s\S]*\r\n\r\nafter\|$/);
    socket.destroy();
  });

  test("without a 'connect' listener CONNECT gets 501 and no listener runs", async () => {
    app.off("connect", listener);
    try {
      const before = seen.length;
      const reply = await raw(port, `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: a\r\n\r\n`, 10_000);
      assert.match(reply, /^HTTP\/1\.1 501 Not Implemented\r\n/);
      assert.equal(seen.length, before);
      assert.ok(!requests.some((r) => r.startsWith("CONNECT")), "CONNECT is not a 'request' either");
    } finally {
      app.on("connect", listener);
    }
  });
});

describe("CONNECT on tsgi/node's createServer", () => {
  test("'connect' receives the tunnel; removing the listener brings back 501", async () => {
    const echo = createNetServer((s) => s.pipe(s));
    echo.listen(0, "127.0.0.1");
    await once(echo, "listening");
    const echoPort = (echo.address() as AddressInfo).port;
    const seen: Seen[] = [];
    const sockets = new Set<Socket>();
    const listener = tunnel(seen, sockets);
    const server = createTsgiServer({ tsgi: { logLevel: "critical" } }, (_req, res) => res.end("x"));
    server.on("connect", listener);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    try {
      const socket = connect(port, "127.0.0.1");
      sockets.add(socket);
      socket.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: a\r\n\r\n`);
      await readUntil(socket, "\r\n\r\n");
      const done = deferred<string>();
      socket.once("data", (d) => done.resolve(d.toString()));
      socket.write("hello");
      assert.equal(await done.promise, "hello");
      assert.equal(seen[0]!.url, `127.0.0.1:${echoPort}`);
      socket.destroy();

      server.off("connect", listener);
      const reply = await raw(port, `CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: a\r\n\r\n`, 10_000);
      assert.match(reply, /^HTTP\/1\.1 501 /);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      echo.close();
    }
  });
});
