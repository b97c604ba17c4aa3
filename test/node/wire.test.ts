/**
 * The node:http-style gateway keeps tsgi in charge of the wire: pipelined
 * requests answered in order, the client leaving mid-body and mid-response
 * seen as node's 'aborted'/'close', `'checkContinue'`, refused responses
 * (header injection, a body contradicting Content-Length), and the
 * `tsgi/node` server's node:http surface (synchronous listen, close(cb),
 * `'upgrade'` for ws).
 */

import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { createSecureServer, createServer, type Server } from "../../src/gateways/node/index.ts";
import { deferred, open, raw, sleep } from "./support.ts";

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** Three GETs in one write, the last asking to close. */
const THREE_PIPELINED =
  "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/** The paths the responses in `text` answered (bodies `answer /N`), in order. */
const answered = (text: string) => [...text.matchAll(/answer (\/\d)/g)].map((m) => m[1]);

describe("tsgi/node server", () => {
  let server: Server;
  let port: number;
  let route: Listener = (_req, res) => res.end("default");

  before(() => {
    server = createServer({ tsgi: { logLevel: "critical" } }, (req, res) => route(req, res));
    server.listen(0, "127.0.0.1");
    return new Promise<void>((r) => server.once("listening", () => r()));
  });
  before(() => {
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test("pipelined requests are answered in order", async () => {
    route = (req, res) => {
      // The first answers last: tsgi still writes the responses in request order.
      const delay = req.url === "/1" ? 50 : 0;
      setTimeout(() => res.end(`answer ${req.url}`), delay);
    };
    const text = await raw(port, THREE_PIPELINED);
    const bodies = answered(text);
    assert.deepEqual(bodies, ["/1", "/2", "/3"]);
  });

  test("pipelined responses share the socket, waiting for it as node's do: 'prefinish' and 'finish' in order", async () => {
    const events: string[] = [];
    const sockets = new Set<unknown>();
    const finished = deferred();
    route = (req, res) => {
      sockets.add(req.socket);
      const name = req.url!;
      res.on("prefinish", () => events.push(`prefinish ${name}`));
      res.on("finish", () => {
        events.push(`finish ${name}`);
        if (name === "/3") finished.resolve();
      });
      res.end(`answer ${name}`);
    };
    const text = await raw(port, THREE_PIPELINED);
    await finished.promise;
    assert.deepEqual(answered(text), ["/1", "/2", "/3"]);
    assert.equal(sockets.size, 1);
    for (const name of ["/1", "/2", "/3"]) {
      assert.ok(events.indexOf(`prefinish ${name}`) < events.indexOf(`finish ${name}`), events.join());
    }
    const finishes = events.filter((e) => e.startsWith("finish"));
    assert.deepEqual(finishes, ["finish /1", "finish /2", "finish /3"]);
  });

  test("a pipelined request reaches the app once the response before has finished and closed; res.socket is set from the start", async () => {
    const events: string[] = [];
    const finished = deferred();
    route = (req, res) => {
      const name = req.url!;
      events.push(`request ${name} socket ${res.socket === req.socket}`);
      res.on("finish", () => events.push(`finish ${name}`));
      res.on("close", () => {
        events.push(`close ${name}`);
        if (name === "/3") finished.resolve();
      });
      res.end(`answer ${name}`);
    };
    const text = await raw(port, THREE_PIPELINED);
    await finished.promise;
    assert.deepEqual(answered(text), ["/1", "/2", "/3"]);
    assert.deepEqual(events, [
      "request /1 socket true",
      "finish /1",
      "close /1",
      "request /2 socket true",
      "finish /2",
      "close /2",
      "request /3 socket true",
      "finish /3",
      "close /3",
    ]);
  });

  test("16 pipelined requests read at once are answered in one socket write, string and byte bodies mixed", async () => {
    let writes = 0;
    const counted = new Promise<void>((resolve) =>
      server.once("connection", (socket: import("node:net").Socket) => {
        const s = socket as unknown as Record<string, (...args: unknown[]) => unknown>;
        for (const method of ["_write", "_writev"]) {
          const original = s[method]!;
          s[method] = function (this: unknown, ...args: unknown[]) {
            writes++;
            return original.apply(this, args);
          };
        }
        resolve();
      }),
    );
    route = (req, res) => {
      const n = Number(req.url!.slice(1));
      if (n % 2 === 0) res.end(`answer ${n}`);
      else res.end(Buffer.from(`answer ${n}`));
    };
    let batch = "";
    for (let n = 1; n <= 16; n++) batch += `GET /${n} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const socket = await open(port);
    await counted;
    let text = "";
    socket.setEncoding("latin1");
    const all = new Promise<void>((resolve) =>
      socket.on("data", (d: string) => {
        text += d;
        if (text.includes("answer 16")) resolve();
      }),
    );
    socket.write(batch);
    await all;
    socket.destroy();
    assert.deepEqual(
      [...text.matchAll(/answer (\d+)/g)].map((m) => Number(m[1])),
      Array.from({ length: 16 }, (_, i) => i + 1),
    );
    assert.equal(writes, 1);
  });

  test("keep-alive requests share req.socket, as node's; an unread GET ends complete, not aborted", async () => {
    const sockets: unknown[] = [];
    const events: string[] = [];
    const closed = deferred();
    route = (req, res) => {
      sockets.push(req.socket);
      req.on("aborted", () => events.push(`${req.url} aborted`));
      req.on("close", () => {
        events.push(`${req.url} close complete=${req.complete}`);
        if (req.url === "/2") closed.resolve();
      });
      res.end(`answer ${req.url}`);
    };
    const socket = await open(port);
    socket.setEncoding("latin1");
    let text = "";
    const answered = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if ((text.match(/answer \//g) ?? []).length >= n) resolve();
          else socket.once("data", check);
        };
        check();
      });
    socket.on("data", (d: string) => {
      text += d;
    });
    socket.write("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
    await answered(1);
    await sleep(20); // the first exchange's 'finish' and 'close' ticks
    socket.write("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    await answered(2);
    await closed.promise;
    socket.destroy();
    assert.equal(sockets.length, 2);
    assert.equal(sockets[0], sockets[1]);
    assert.equal((sockets[0] as { destroyed: boolean }).destroyed, false);
    assert.deepEqual(events, ["/1 close complete=true", "/2 close complete=true"]);
  });

  test("a body the app never reads is discarded as node's _dump does: no 'aborted', the socket lives on", async () => {
    const events: string[] = [];
    const sockets: unknown[] = [];
    const closed = deferred();
    route = (req, res) => {
      sockets.push(req.socket);
      req.on("aborted", () => events.push(`${req.url} aborted`));
      req.on("close", () => {
        events.push(`${req.url} close`);
        if (req.url === "/2") closed.resolve();
      });
      res.end(`answer ${req.url}`); // the body is never read
    };
    const text = await raw(
      port,
      "POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
        "GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    await closed.promise;
    assert.deepEqual(answered(text), ["/1", "/2"]);
    assert.deepEqual(events, ["/1 close", "/2 close"]);
    assert.equal(sockets[0], sockets[1]);
  });

  test("a client leaving mid-body: 'aborted' and 'close' on req, 'close' on res", async () => {
    const events: string[] = [];
    const done = deferred();
    route = (req, res) => {
      req.on("data", () => {});
      req.on("aborted", () => events.push("req aborted"));
      req.on("close", () => {
        events.push("req close");
      });
      res.on("close", () => {
        events.push("res close");
        done.resolve();
      });
    };
    const socket = await open(port);
    socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf");
    await sleep(50);
    socket.destroy();
    await done.promise;
    await sleep(20);
    assert.ok(events.includes("req aborted"), events.join());
    assert.ok(events.includes("req close"), events.join());
    assert.ok(events.includes("res close"), events.join());
  });

  test("a client leaving mid-response: 'close' on res and req, writes stop", async () => {
    const done = deferred<{ finished: boolean; destroyed: boolean }>();
    route = (req, res) => {
      res.writeHead(200, { "Content-Type": "text/plain" });
      const timer = setInterval(() => res.write("tick\n"), 5);
      res.on("close", () => {
        clearInterval(timer);
        done.resolve({ finished: res.writableFinished, destroyed: res.destroyed });
      });
      req.resume();
    };
    const socket = await open(port);
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await sleep(40);
    socket.destroy();
    assert.deepEqual(await done.promise, { finished: false, destroyed: true });
  });

  test("'checkContinue': 100 Continue only once the app calls writeContinue", async () => {
    const seen: string[] = [];
    const onCheck = (req: IncomingMessage, res: ServerResponse) => {
      seen.push("checkContinue");
      res.writeContinue();
      let body = "";
      req.setEncoding("latin1");
      req.on("data", (c: string) => {
        body += c;
      });
      req.on("end", () => res.end(`got ${body}`));
    };
    server.on("checkContinue", onCheck);
    try {
      const socket = await open(port);
      let text = "";
      socket.setEncoding("latin1");
      socket.on("data", (d: string) => {
        text += d;
        if (text.startsWith("HTTP/1.1 100 Continue\r\n\r\n") && !text.includes("200")) socket.write("hello");
      });
      socket.write("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
      await sleep(100);
      socket.destroy();
      assert.deepEqual(seen, ["checkContinue"]);
      assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /got hello$/);
    } finally {
      server.off("checkContinue", onCheck);
    }
  });

  test("a header with CRLF is refused (node's own check, ERR_INVALID_CHAR)", async () => {
    const codes: string[] = [];
    route = (_req, res) => {
      try {
        res.setHeader("X-Evil", "a\r\nSet-Cookie: x=1");
      } catch (err) {
        codes.push((err as NodeJS.ErrnoException).code ?? "");
      }
      try {
        res.writeHead(200, { "X-Evil": "a\r\nInjected: 1" });
      } catch (err) {
        codes.push((err as NodeJS.ErrnoException).code ?? "");
      }
      res.end("clean");
    };
    const text = await raw(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.deepEqual(codes, ["ERR_INVALID_CHAR", "ERR_INVALID_CHAR"]);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(text, /Injected|Set-Cookie/);
  });

  test("a body contradicting its Content-Length is refused by tsgi's serializer: 500", async () => {
    route = (_req, res) => {
      res.setHeader("Content-Length", "10");
      res.end("abc");
    };
    const text = await raw(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(text, /^HTTP\/1\.1 500 /);
  });

  test("tsgi frames the body: the app's Transfer-Encoding is replaced", async () => {
    route = (_req, res) => {
      res.setHeader("Transfer-Encoding", "gzip, chunked");
      res.write("a");
      res.end("b");
    };
    const text = await raw(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(text, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.doesNotMatch(text, /gzip/);
    assert.match(text, /\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n$/);
  });

  test("write() returns false under backpressure and 'drain' follows", async () => {
    const result = deferred<{ sawFalse: boolean; drains: number }>();
    route = (_req, res) => {
      let drains = 0;
      let sawFalse = false;
      const chunk = Buffer.alloc(64 * 1024, 120);
      let n = 0;
      const pump = () => {
        while (n < 64) {
          n++;
          if (!res.write(chunk)) {
            sawFalse = true;
            res.once("drain", () => {
              drains++;
              pump();
            });
            return;
          }
        }
        res.end(() => result.resolve({ sawFalse, drains }));
      };
      pump();
    };
    const r = await fetch(`http://127.0.0.1:${port}/`);
    const body = await r.arrayBuffer();
    assert.equal(body.byteLength, 64 * 64 * 1024);
    const { sawFalse, drains } = await result.promise;
    assert.ok(sawFalse);
    assert.ok(drains > 0);
  });

  test("'upgrade' hands the raw socket to ws", async () => {
    const wss = new WebSocketServer({ server: server as unknown as import("node:http").Server });
    wss.on("connection", (ws) => ws.on("message", (m) => ws.send(`echo ${m}`)));
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      const reply = await new Promise<string>((resolve, reject) => {
        ws.on("open", () => ws.send("hi"));
        ws.on("message", (m) => resolve(String(m)));
        ws.on("error", reject);
      });
      assert.equal(reply, "echo hi");
      ws.close();
    } finally {
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});

describe("tsgi/node listen and close", () => {
  test("listen(0) binds synchronously; close(cb) after an idle keep-alive connection", async () => {
    const server = createServer((_req, res) => res.end("ok"));
    assert.equal(server.address(), null);
    server.listen(0);
    const address = server.address() as AddressInfo;
    assert.ok(address.port > 0);
    assert.ok(server.listening);
    const r = await fetch(`http://127.0.0.1:${address.port}/`);
    assert.equal(await r.text(), "ok");
    const closed = deferred<Error | undefined>();
    server.close((err) => closed.resolve(err));
    assert.equal(await closed.promise, undefined);
    const again = deferred<Error | undefined>();
    server.close((err) => again.resolve(err));
    assert.equal(((await again.promise) as NodeJS.ErrnoException).code, "ERR_SERVER_NOT_RUNNING");
  });

  test("EADDRINUSE is an 'error' event", async () => {
    const a = createServer();
    a.listen(0, "127.0.0.1");
    await new Promise((r) => a.once("listening", r));
    const b = createServer();
    const err = deferred<NodeJS.ErrnoException>();
    b.once("error", (e) => err.resolve(e));
    b.listen((a.address() as AddressInfo).port, "127.0.0.1");
    assert.equal((await err.promise).code, "EADDRINUSE");
    await new Promise((r) => a.close(r));
  });
});

describe("tsgi/node and the connection's facts", () => {
  test("--proxy-headers: req.socket speaks for the client a trusted proxy names", async () => {
    const seen = deferred<string>();
    const server = createServer({ tsgi: { proxyHeaders: true } }, (req, res) => {
      seen.resolve(
        `${req.socket.remoteAddress} ${(req.socket as { encrypted?: boolean }).encrypted === true}`,
      );
      res.end();
    });
    server.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      await raw(
        (server.address() as AddressInfo).port,
        "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n",
      );
      assert.equal(await seen.promise, "203.0.113.7 true");
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe("tsgi/node createSecureServer", () => {
  test("HTTPS through tsgi: req.socket.encrypted, keep-alive, close(cb)", async () => {
    const fixtures = new URL("../compat/ws/test/fixtures/", import.meta.url);
    const { readFileSync } = await import("node:fs");
    const https = await import("node:https");
    const server = createSecureServer(
      {
        cert: readFileSync(new URL("certificate.pem", fixtures)),
        key: readFileSync(new URL("key.pem", fixtures)),
      },
      (req, res) => res.end(`secure ${(req.socket as { encrypted?: boolean }).encrypted === true}`),
    );
    server.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(
          { host: "127.0.0.1", port: (server.address() as AddressInfo).port, rejectUnauthorized: false },
          (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => {
              text += c;
            });
            res.on("end", () => resolve(text));
          },
        )
        .on("error", reject);
    });
    assert.equal(body, "secure true");
    await new Promise((r) => server.close(r));
  });
});
