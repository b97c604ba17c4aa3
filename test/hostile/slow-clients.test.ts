/**
 * Slow and greedy clients against a live server with short timeouts: ~200
 * attacking connections (slowloris heads at a byte a tick, stalled bodies,
 * clients that never read their responses, pipeliners that never read, idle
 * keep-alive connections) while a healthy client keeps making requests.
 * Asserted: every healthy request succeeds while the attack runs, every
 * attacker is cut by the bound it runs into (timeout or limit), and the
 * server ends with no connection and no leaked handle. No timing assertion:
 * the machine may be slow; only outcomes are checked.
 */

import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import { startServer } from "../helpers.ts";
import { sleep } from "../server/client.ts";

const HEADER_TIMEOUT = 1000;
const BODY_TIMEOUT = 1000;
const KEEP_ALIVE_TIMEOUT = 1000;
const SEND_TIMEOUT = 1000;
/** Per kind of attacker; five kinds. */
const PER_KIND = 40;

/** An endless streamed response: a client that does not read can only be cut by sendTimeout. */
const PIECE = "x".repeat(64 * 1024);
function* big(): Generator<string> {
  for (;;) yield PIECE;
}

function app(environ: Environ, start: StartResponse): Iterable<string> {
  if (environ.PATH_INFO === "/big") {
    start("200 OK", [["Content-Type", "text/plain"]]);
    return big();
  }
  if (environ.REQUEST_METHOD === "POST") {
    const body = (environ["wsgi.input"] as unknown as { read(): Uint8Array }).read();
    start("200 OK", [["Content-Type", "text/plain"]]);
    return [`got ${body.length}`];
  }
  start("200 OK", [["Content-Type", "text/plain"]]);
  return ["ok"];
}

/** An attacking connection and how it ended. */
interface Attacker {
  kind: string;
  socket: Socket;
  /** Bytes the server sent it. */
  received: number;
  /** Resolves once the server closed (or reset) the connection. */
  closed: Promise<void>;
  /** A timer the attacker runs (stopped when the server closes it). */
  timer?: NodeJS.Timeout;
}

function attack(port: number, kind: string, start: (a: Attacker) => void, read = true): Promise<Attacker> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let done!: () => void;
    const a: Attacker = { kind, socket, received: 0, closed: new Promise((r) => (done = r)) };
    socket.on("data", (d) => (a.received += d.length));
    if (!read) socket.pause();
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(a.timer);
      done();
    });
    socket.once("connect", () => {
      start(a);
      resolve(a);
    });
    socket.once("error", reject);
  });
}

/** One healthy request on a fresh connection; resolves with the status. */
function healthy(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () =>
      s.write("GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
    );
    let text = "";
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("end", () => {
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve(m === null ? 0 : Number(m[1]));
    });
    s.on("error", reject);
  });
}

test(`${5 * PER_KIND} slow and greedy clients are cut at their bounds while a healthy client is always served`, async (t) => {
  const before = new Set(process.getActiveResourcesInfo());
  const { server, port, errors } = await startServer(app, {
    headerTimeout: HEADER_TIMEOUT,
    bodyTimeout: BODY_TIMEOUT,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT,
    sendTimeout: SEND_TIMEOUT,
    accessLog: false,
  });
  const kinds: [string, (a: Attacker) => void, boolean][] = [
    // Slowloris: a head trickling in one byte per 100 ms, never finished in time.
    [
      "slowloris",
      (a) => {
        const head = `GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ${"s".repeat(200)}\r\n\r\n`;
        let i = 0;
        a.timer = setInterval(() => {
          if (i < head.length && !a.socket.destroyed) a.socket.write(head[i++]!);
        }, 100);
      },
      true,
    ],
    // A body promised and never sent past its first bytes.
    [
      "slow body",
      (a) => a.socket.write("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nabc"),
      true,
    ],
    // Asks for a big response and never reads it.
    ["never reads", (a) => a.socket.write("GET /big HTTP/1.1\r\nHost: a\r\n\r\n"), false],
    // Pipelines big responses forever without reading any.
    [
      "endless pipelining",
      (a) => {
        const batch = "GET /big HTTP/1.1\r\nHost: a\r\n\r\n".repeat(50);
        a.timer = setInterval(() => {
          if (!a.socket.destroyed && a.socket.writableLength < 1 << 20) a.socket.write(batch);
        }, 20);
      },
      false,
    ],
    // One request, then idle on the keep-alive connection.
    ["idle keep-alive", (a) => a.socket.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), true],
  ];
  const attackers: Attacker[] = [];
  for (const [kind, start, read] of kinds) {
    for (let i = 0; i < PER_KIND; i++) attackers.push(await attack(port, kind, start, read));
  }
  // Whatever an assertion says, the attackers and the server must go, or the
  // test process would stay alive on their handles.
  const cleanUp = async () => {
    for (const a of attackers) a.socket.destroy();
    await server.close(1000);
  };
  try {
    const startedAt = Date.now();
    // Healthy traffic, one request at a time, for as long as attackers hold
    // connections on the server (a client that never reads cannot see the
    // server's close, so the server's count is the measure).
    let ok = 0;
    let failed = 0;
    while (server.connectionCount > 1 && Date.now() - startedAt < 30_000) {
      const status = await healthy(port).catch(() => 0);
      if (status === 200) ok++;
      else failed++;
    }
    const cutAfter = Date.now() - startedAt;
    t.diagnostic(
      `${ok} healthy requests while ${attackers.length} attackers were connected; all attackers cut within ${cutAfter} ms`,
    );
    assert.equal(failed, 0, "every healthy request succeeded");
    assert.ok(ok >= 10, `only ${ok} healthy requests were made`);
    // Each kind got what its bound gives: a 408 for the stalled heads and bodies,
    // a 200 for the idle ones, and part of a response for the non-readers.
    const by = (kind: string) => attackers.filter((a) => a.kind === kind);
    for (const a of by("slowloris")) assert.ok(a.received > 0, "slowloris got its 408");
    for (const a of by("slow body")) assert.ok(a.received > 0, "slow body got its 408");
    for (const a of by("idle keep-alive")) assert.ok(a.received > 0, "idle client got its response");
    // Everything is cut by a timeout of about a second; a slow machine may add a few ticks, not tens of seconds.
    assert.ok(cutAfter < 20_000, `attackers lasted ${cutAfter} ms`);
    for (const a of by("never reads").concat(by("endless pipelining"))) {
      // Their response is endless, so only sendTimeout ends it: the server
      // destroys the socket (what the kernel still held for them is lost in the reset).
      a.socket.resume();
    }
    // The server's side is what counts (checked above and below); the client
    // side of a non-reader may take a while to see the reset, so wait boundedly.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(attackers.map((a) => a.closed)),
      new Promise((r) => (timer = setTimeout(r, 10_000))),
    ]);
    clearTimeout(timer);
    for (let i = 0; i < 40 && server.connectionCount > 0; i++) await sleep(50);
    assert.equal(server.connectionCount, 0, "no connection left");
  } catch (err) {
    await cleanUp();
    throw err;
  }
  await cleanUp();
  assert.doesNotMatch(errors.text, /internal error|TypeError|RangeError/);
  // The listener's handle is released a little after close() resolves (net.Server closes it asynchronously).
  const leaked = () => process.getActiveResourcesInfo().filter((r) => !before.has(r) && r !== "Timeout");
  for (let i = 0; i < 20 && leaked().length > 0; i++) await sleep(50);
  assert.deepEqual(leaked(), [], "no socket or server handle left");
});
