/**
 * An Express 5 app with `--workers 2`: a SIGHUP reload under a steady
 * stream of requests, some on new connections and some on keep-alive
 * connections (GETs and POSTs with bodies), fails no request, and the
 * served code changes (the app reads its version from a file at import).
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startCli } from "../helpers.ts";
import { FIXTURES, Load, type Outcome, waitFor } from "./support.ts";

/** What one keep-alive exchange read: a response, or the connection closed before any byte of one. */
type Read = { status: number; head: string; body: string } | "closed before a response" | string;

/** One keep-alive connection, reading one Content-Length framed response per request. */
class KeepAliveConnection {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private closed = false;
  /** The server said Connection: close: no more requests on this one. */
  private ending = false;
  private readonly socket: Socket;

  constructor(port: number) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.on("data", (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.waiter?.();
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
    this.socket.on("error", () => {});
  }

  get usable(): boolean {
    return !this.closed && !this.ending;
  }

  destroy(): void {
    this.socket.destroy();
  }

  async exchange(bytes: string, timeoutMs: number): Promise<Read> {
    this.socket.write(bytes);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end !== -1) {
        const head = this.buffer.toString("latin1", 0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? -1);
        if (length < 0) return `no Content-Length in ${JSON.stringify(head)}`;
        if (this.buffer.length >= end + 4 + length) {
          const body = this.buffer.toString("latin1", end + 4, end + 4 + length);
          this.buffer = this.buffer.subarray(end + 4 + length);
          const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0);
          if (/\r\nconnection: close/i.test(head)) {
            this.ending = true;
            this.socket.end();
          }
          return { status, head, body };
        }
      }
      if (this.closed) return this.buffer.length === 0 ? "closed before a response" : "incomplete response";
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
  }
}

/**
 * `clients` loops, each on a keep-alive connection, alternating a GET and a
 * POST with a body; a new connection when the server closed the old one.
 * A request whose connection closed before any byte of its response is a
 * failure: a stopping worker keeps its idle connections open for a moment
 * and answers a request that arrives with `Connection: close`, so no
 * request sent on a connection that looked open is lost (RFC 9112 §9.3.1
 * allows clients to resend, but a POST cannot be resent blindly).
 */
class KeepAliveLoad {
  readonly outcomes: Outcome[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(port: number, clients: number) {
    const deadline = Date.now() + 60_000;
    this.loops = Array.from({ length: clients }, async (_, c) => {
      let conn = new KeepAliveConnection(port);
      for (let k = 0; this.running && Date.now() < deadline; k++) {
        const post = k % 2 === 1;
        const text = `client ${c} request ${k}`;
        const bytes = post
          ? `POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`
          : "GET /?ms=5 HTTP/1.1\r\nHost: t\r\n\r\n";
        const start = Date.now();
        if (!conn.usable) conn = new KeepAliveConnection(port);
        const read = await conn.exchange(bytes, 10_000);
        const outcome: Outcome =
          typeof read === "string"
            ? { ok: false, status: 0, body: "", error: read, start, end: Date.now() }
            : {
                ok: read.status === 200 && (!post || read.body.endsWith(` ${text}`)),
                status: read.status,
                body: read.body,
                error: read.status === 200 ? "" : read.head,
                start,
                end: Date.now(),
              };
        this.outcomes.push(outcome);
        if (!outcome.ok) {
          conn.destroy();
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      conn.destroy();
    });
  }

  async stop(): Promise<Outcome[]> {
    this.running = false;
    await Promise.all(this.loops);
    return this.outcomes;
  }
}

test("Express with --workers 2: SIGHUP under keep-alive and new-connection load, zero failed requests", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tsgi-express-reload-"));
  const versionFile = join(dir, "version");
  writeFileSync(versionFile, "v1");
  process.env.TSGI_TEST_VERSION_FILE = versionFile;
  const cli = await startCli(
    ["--port", "0", "--workers", "2", "--no-access-log", `${FIXTURES}/express_version.mjs`],
    { timeoutMs: 60_000 },
  );
  let fresh: Load | undefined;
  let kept: KeepAliveLoad | undefined;
  try {
    const newConnections = new Load(cli.port, "/?ms=10", 2, 10_000);
    fresh = newConnections;
    const keepAlive = new KeepAliveLoad(cli.port, 2);
    kept = keepAlive;
    const all = () => [...newConnections.outcomes, ...keepAlive.outcomes];
    await waitFor(
      () =>
        newConnections.outcomes.filter((o) => o.ok).length >= 10 &&
        keepAlive.outcomes.filter((o) => o.ok).length >= 10,
      "responses from the first code on both kinds of connection",
      30_000,
    );
    writeFileSync(versionFile, "v2");
    cli.child.kill("SIGHUP");
    // Switched: the last 20 responses of each load come from the new code.
    const switched = (outcomes: Outcome[]) => {
      const last = outcomes.slice(-20);
      return last.length === 20 && last.every((o) => o.body.startsWith("v2 "));
    };
    await waitFor(
      () => switched(newConnections.outcomes) && switched(keepAlive.outcomes),
      "responses from the new code",
      60_000,
    );
    await newConnections.stop();
    await keepAlive.stop();
    const outcomes = all();
    const failures = outcomes.filter((o) => !o.ok).map((o) => o.error || `status ${o.status}: ${o.body}`);
    assert.deepEqual(failures, [], "no request failed during the reload");
    assert.ok(outcomes.some((o) => o.body.startsWith("v1 ")));
    assert.ok(keepAlive.outcomes.filter((o) => o.body.startsWith("v1 ")).length >= 10);
    assert.ok(keepAlive.outcomes.filter((o) => o.body.startsWith("v2 ")).length >= 20);
    assert.match(cli.stderr(), /SIGHUP: reloading/);
    assert.match(cli.stderr(), /Reloaded/);
    t.diagnostic(`${outcomes.length} requests`);
  } finally {
    await fresh?.stop();
    await kept?.stop();
    cli.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
