/**
 * Timeouts over real sockets, with short values. The server checks deadlines
 * on a 250 ms sweep, so every bound here allows a tick or two of slack; the
 * suites run their tests concurrently to keep the wall time down.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import { startServer } from "../helpers.ts";
import {
  assertClosed,
  assertStillOpen,
  type Client,
  ClientPool,
  echoApp,
  echoOf,
  get,
  header,
  show,
  sleep,
  startRaw,
} from "./client.ts";

const HEADER_TIMEOUT = 400;
const BODY_TIMEOUT = 600;
const KEEP_ALIVE_TIMEOUT = 400;
/** The sweep runs every 250 ms; a deadline fires at most one tick (plus scheduling noise) late. */
const SLACK = 600;

/** Paths the app was called for (tests run concurrently, so a counter would race). */
const seen: string[] = [];
function app(environ: Environ, startResponse: StartResponse): string[] {
  seen.push(environ.PATH_INFO);
  return echoApp(environ, startResponse);
}

let port: number;
let closeServer: () => Promise<void>;
const pool = new ClientPool();
const open = (p = port): Promise<Client> => pool.open(p);

before(async () => {
  const s = await startServer(app, {
    headerTimeout: HEADER_TIMEOUT,
    bodyTimeout: BODY_TIMEOUT,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT,
  });
  port = s.port;
  closeServer = () => s.server.close(1000);
});

after(async () => {
  pool.destroyAll();
  await closeServer();
});

/** Milliseconds since `start`, asserted to lie in [min, max]. */
function elapsedWithin(start: number, min: number, max: number, what: string): void {
  const ms = Date.now() - start;
  assert.ok(ms >= min && ms <= max, `${what} after ${ms} ms, expected ${min}..${max}`);
}

describe("timeouts", { concurrency: true }, () => {
  describe("header timeout", { concurrency: true }, () => {
    test("a partial head gets 408 and the connection is closed", async () => {
      const c = await open();
      const start = Date.now();
      c.send("GET /slow HTTP/1.1\r\nHost: t\r\n");
      const res = await c.read({ timeoutMs: HEADER_TIMEOUT + SLACK + 500 });
      elapsedWithin(start, HEADER_TIMEOUT - 50, HEADER_TIMEOUT + SLACK, "408");
      assert.equal(res.status, 408, show(res));
      assert.equal(header(res, "connection"), "close");
      await assertClosed(c);
    });

    test("a connection that sends nothing is closed without a response", async () => {
      const start = Date.now();
      const c = await open();
      assert.equal(await c.closedWithin(HEADER_TIMEOUT + SLACK + 500), true);
      elapsedWithin(start, HEADER_TIMEOUT - 50, HEADER_TIMEOUT + SLACK, "close");
      assert.equal(c.text(), "");
    });

    test("the head must be complete in time even if bytes keep trickling in (slowloris)", async () => {
      const c = await open();
      const start = Date.now();
      const head = `GET / HTTP/1.1\r\nHost: t\r\nX-Pad: ${"a".repeat(40)}\r\n\r\n`;
      let i = 0;
      const timer = setInterval(() => c.send(head[i++] ?? ""), 50);
      try {
        const res = await c.read({ timeoutMs: HEADER_TIMEOUT + SLACK + 500 });
        elapsedWithin(start, HEADER_TIMEOUT - 50, HEADER_TIMEOUT + SLACK, "408");
        assert.equal(res.status, 408);
        assert.ok(i < head.length, "the 408 came before the head was complete");
      } finally {
        clearInterval(timer);
      }
      assert.equal(await c.closedWithin(), true);
    });

    test("a head completed in time is answered", async () => {
      const c = await open();
      c.send("GET /in-time HTTP/1.1\r\n");
      await sleep(HEADER_TIMEOUT / 2);
      c.send("Host: t\r\n\r\n");
      const res = await c.read();
      assert.equal(res.status, 200);
      assert.equal(echoOf(res).path, "/in-time");
      await assertStillOpen(c);
    });
  });

  describe("body timeout", { concurrency: true }, () => {
    test("a stalled body gets 408 and the connection is closed; the app is not called", async () => {
      const c = await open();
      c.send("POST /stalled-length HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
      const start = Date.now();
      const res = await c.read({ timeoutMs: BODY_TIMEOUT + SLACK + 500 });
      elapsedWithin(start, BODY_TIMEOUT - 50, BODY_TIMEOUT + SLACK, "408");
      assert.equal(res.status, 408, show(res));
      assert.equal(header(res, "connection"), "close");
      await assertClosed(c);
      assert.ok(!seen.includes("/stalled-length"));
    });

    test("a stalled chunked body gets 408 too", async () => {
      const c = await open();
      c.send("POST /stalled HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
      const res = await c.read({ timeoutMs: BODY_TIMEOUT + SLACK + 500 });
      assert.equal(res.status, 408, show(res));
      await assertClosed(c);
    });

    test("a slow upload that keeps sending is not cut", async () => {
      const c = await open();
      c.send("POST /slow-upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
      const start = Date.now();
      let expected = "";
      for (let i = 0; i < 8; i++) {
        await sleep(200);
        const piece = `piece-${i};`;
        expected += piece;
        c.send(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      }
      c.send("0\r\n\r\n");
      const res = await c.read();
      assert.ok(Date.now() - start > 1.5 * BODY_TIMEOUT, "the upload took longer than the timeout");
      assert.equal(res.status, 200, show(res));
      assert.equal(echoOf(res).body, expected);
      await assertStillOpen(c);
    });

    test("a slow Content-Length upload that keeps sending is not cut", async () => {
      const c = await open();
      c.send("POST /slow-upload HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\n");
      for (let i = 0; i < 8; i++) {
        await sleep(200);
        c.send(String(i));
      }
      const res = await c.read();
      assert.equal(res.status, 200, show(res));
      assert.equal(echoOf(res).body, "01234567");
      await assertStillOpen(c);
    });
  });

  describe("keep-alive timeout", { concurrency: true }, () => {
    test("an idle keep-alive connection is closed without a response", async () => {
      const c = await open();
      c.send(get("/once"));
      assert.equal((await c.read()).status, 200);
      const start = Date.now();
      assert.equal(await c.closedWithin(KEEP_ALIVE_TIMEOUT + SLACK + 500), true);
      elapsedWithin(start, KEEP_ALIVE_TIMEOUT - 50, KEEP_ALIVE_TIMEOUT + SLACK, "close");
      assert.equal(c.text(), "");
    });

    test("each request restarts the idle timer", async () => {
      const c = await open();
      for (let i = 0; i < 5; i++) {
        await assertStillOpen(c, `/tick-${i}`);
        await sleep(KEEP_ALIVE_TIMEOUT / 2);
      }
      assert.equal(c.ended, false);
    });

    describe("a streamed response longer than the keep-alive timeout", () => {
      let rawPort: number;
      let closeRaw: () => Promise<void>;

      before(async () => {
        // Writes a piece every 150 ms for about 1.2 s.
        const s = await startRaw(
          (ex) => {
            ex.respond({ status: 200, headers: ["Content-Type", "text/plain"] });
            let n = 0;
            const timer = setInterval(() => {
              if (ex.finished) {
                clearInterval(timer);
                return;
              }
              ex.write(Buffer.from(`tick ${n}\n`));
              if (++n === 8) {
                clearInterval(timer);
                ex.end();
              }
            }, 150);
          },
          { keepAliveTimeout: 300, headerTimeout: 300, bodyTimeout: 300 },
        );
        rawPort = s.port;
        closeRaw = () => s.server.close(1000);
      });
      after(() => closeRaw());

      test("is not cut by the keep-alive (or header, or body) timeout", async () => {
        const c = await open(rawPort);
        c.send(get("/stream"));
        const res = await c.read({ timeoutMs: 5000 });
        assert.equal(res.status, 200);
        assert.equal(res.framing, "chunked");
        assert.equal(res.body.toString(), Array.from({ length: 8 }, (_, i) => `tick ${i}\n`).join(""));
        assert.equal(c.ended, false, "still open right after the response");
        // ...and the idle timeout applies again afterwards.
        assert.equal(await c.closedWithin(300 + SLACK + 500), true);
        assert.equal(c.text(), "");
      });
    });
  });
});
