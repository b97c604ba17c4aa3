/**
 * examples/express_app.ts run as a user runs it, through the CLI, and every
 * feature it shows exercised by real clients: undici's fetch for routing,
 * JSON and form bodies, static files (bytes, ETag; a 304 through undici's
 * `request`) and the streamed download (every byte counted and checked), curl for the download as a
 * second client, and a `ws` client for the WebSocket echo.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { WebSocket } from "ws";
import { type CliProcess, startCli } from "../helpers.ts";
import { CURL, needs } from "../needs.ts";

const PUBLIC = fileURLToPath(new URL("../../examples/public/", import.meta.url));

/** Checks that `chunk`, found at `offset` in the download, is the example's pattern (byte i is i mod 256). */
function checkPattern(chunk: Uint8Array, offset: number): void {
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] !== (offset + i) % 256)
      assert.fail(`byte ${offset + i} is ${chunk[i]}, not ${(offset + i) % 256}`);
  }
}

describe("examples/express_app.ts through the CLI", () => {
  let cli: CliProcess;
  let base: string;

  before(async () => {
    cli = await startCli(["--port", "0", "--no-access-log", "examples/express_app.ts"], {
      timeoutMs: 60_000,
    });
    base = `http://127.0.0.1:${cli.port}`;
  });
  after(async () => {
    cli.child.kill("SIGTERM");
    await cli.exited;
  });

  test("a router with route parameters and the query: JSON out", async () => {
    const r = await fetch(`${base}/api/users/42?q=hello`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await r.json(), { id: "42", q: "hello" });
    const missing = await fetch(`${base}/api/nothing-here`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
  });

  test("a JSON body through express.json()", async () => {
    const payload = { name: "Ada", tags: ["a", "b"], nested: { n: 1.5 } };
    const r = await fetch(`${base}/api/echo`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    assert.equal(r.status, 201);
    assert.deepEqual(await r.json(), { received: payload });
    const bad = await fetch(`${base}/api/echo`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{not json",
    });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
  });

  test("a urlencoded form body through express.urlencoded()", async () => {
    const r = await fetch(`${base}/form`, {
      method: "POST",
      body: new URLSearchParams({ name: "Ada Lovelace & co" }),
    });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "Hello, Ada Lovelace & co!\n");
  });

  test("static files: the bytes on disk, an ETag, 304 for If-None-Match", async () => {
    for (const [path, file, type] of [
      ["/", "index.html", /^text\/html/],
      ["/index.html", "index.html", /^text\/html/],
      ["/style.css", "style.css", /^text\/css/],
    ] as const) {
      const r = await fetch(`${base}${path}`);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get("content-type") ?? "", type);
      const bytes = Buffer.from(await r.arrayBuffer());
      assert.deepEqual(bytes, readFileSync(`${PUBLIC}${file}`), path);
      const etag = r.headers.get("etag");
      assert.ok(etag !== null && etag.length > 2, `${path} has an ETag`);
      // undici's request, not fetch: fetch adds Cache-Control: no-cache to a
      // conditional request (Fetch standard, HTTP-network-or-cache fetch), and
      // `fresh` then never answers 304.
      const again = await request(`${base}${path}`, { headers: { "if-none-match": etag } });
      assert.equal(again.statusCode, 304, path);
      assert.equal((await again.body.arrayBuffer()).byteLength, 0);
      assert.equal(again.headers.etag, etag);
    }
  });

  test("the streamed download: every byte of 48 MiB, in order (fetch)", async () => {
    const size = 48 * 1024 * 1024 + 123; // not a whole number of the example's chunks
    const r = await fetch(`${base}/download?bytes=${size}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-length"), String(size));
    assert.match(r.headers.get("content-disposition") ?? "", /attachment/);
    let received = 0;
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      checkPattern(chunk, received);
      received += chunk.length;
    }
    assert.equal(received, size);
  });

  test("the streamed download to curl: the full byte count", { skip: needs(CURL) }, async () => {
    const size = 20 * 1024 * 1024 + 7;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        "curl",
        [
          "-sS",
          "--max-time",
          "120",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{size_download}",
          `${base}/download?bytes=${size}`,
        ],
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    assert.equal(out, `200 ${size}`);
  });

  test("a download size out of range is a 400", async () => {
    const r = await fetch(`${base}/download?bytes=-1`);
    assert.equal(r.status, 400);
    await r.arrayBuffer();
  });

  test("a WebSocket through ws: text and binary echo; another path gets 404", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/ws`);
    const replies: (string | Buffer)[] = [];
    const done = new Promise<void>((resolve, reject) => {
      ws.on("open", () => {
        ws.send("hi there");
        ws.send(Buffer.from([0, 1, 2, 255]));
      });
      ws.on("message", (data, isBinary) => {
        replies.push(isBinary ? Buffer.from(data as Buffer) : String(data));
        if (replies.length === 2) resolve();
      });
      ws.on("error", reject);
    });
    await done;
    assert.deepEqual(replies, ["echo: hi there", Buffer.from([0, 1, 2, 255])]);
    const closed = new Promise<number>((r) => ws.on("close", (code) => r(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);

    const other = new WebSocket(`ws://127.0.0.1:${cli.port}/elsewhere`);
    const status = await new Promise<number>((resolve) => {
      other.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      other.on("error", () => {});
    });
    assert.equal(status, 404);
  });
});
