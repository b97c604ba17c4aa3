/**
 * Real clients against the server: curl (chunked upload from stdin, a plain
 * GET, a chunked download it must de-chunk) and Node's fetch (undici),
 * whose connection pool must reuse one keep-alive connection.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import type { Environ, StartResponse, WSGIResult } from "../../src/gateways/wsgi/types.ts";
import { startServer } from "../helpers.ts";
import { CURL, needs } from "../needs.ts";
import { type Echo, echoApp, sleep } from "./client.ts";

const LINES = 2000;
const line = (i: number) => `line ${i} ${"#".repeat(i % 97)}\n`;

function app(environ: Environ, startResponse: StartResponse): WSGIResult {
  switch (environ.PATH_INFO) {
    case "/port":
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [environ.REMOTE_PORT];
    case "/lines":
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () {
        for (let i = 0; i < LINES; i++) yield line(i);
      })();
    default:
      return echoApp(environ, startResponse);
  }
}

const noCurl = needs(CURL);

let url: string;
let closeServer: () => Promise<void>;

before(async () => {
  const s = await startServer(app);
  url = s.url;
  closeServer = () => s.server.close(1000);
});
after(() => closeServer());

/** Runs curl; resolves with its exit code, stdout and stderr. */
function curl(
  args: string[],
  stdin?: Buffer,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("curl", ["--silent", "--show-error", "--http1.1", "--max-time", "10", ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(stdin);
  });
}

test("curl: a chunked upload from stdin reaches the app whole", { skip: noCurl }, async () => {
  const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => line(i)).join(""));
  const r = await curl(
    [
      "-H",
      "Transfer-Encoding: chunked",
      "-H",
      "Content-Type: text/plain",
      "--data-binary",
      "@-",
      `${url}/upload`,
    ],
    body,
  );
  assert.equal(r.code, 0, r.stderr);
  const echo = JSON.parse(r.stdout.toString()) as Echo;
  assert.equal(echo.method, "POST");
  assert.equal(echo.body, body.toString("latin1"));
  assert.equal(echo.contentLength, String(body.length));
});

test("curl: a plain GET, headers included", { skip: noCurl }, async () => {
  const r = await curl(["--include", `${url}/hello?x=1`]);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.toString();
  const [head, body] = text.split("\r\n\r\n");
  assert.match(head!, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head!, /\r\nContent-Length: \d+/);
  assert.match(head!, /\r\nServer: tsgi/);
  const echo = JSON.parse(body!) as Echo;
  assert.equal(echo.path, "/hello");
  assert.equal(echo.query, "x=1");
});

test("curl: a generator response is de-chunked to the exact body", { skip: noCurl }, async () => {
  const r = await curl(["--include", `${url}/lines`]);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.toString();
  const split = text.indexOf("\r\n\r\n");
  assert.match(text.slice(0, split), /\r\nTransfer-Encoding: chunked/);
  assert.equal(text.slice(split + 4), Array.from({ length: LINES }, (_, i) => line(i)).join(""));
});

test("curl: two URLs on one command line share one connection", { skip: noCurl }, async () => {
  const r = await curl(["--write-out", "%{num_connects}\\n", `${url}/port`, `${url}/port`]);
  assert.equal(r.code, 0, r.stderr);
  // Each transfer prints its body (the client port) followed by its new-connection count.
  const m = /^(\d+)1\n(\d+)0\n$/.exec(r.stdout.toString());
  assert.ok(m !== null, r.stdout.toString());
  assert.equal(m[1], m[2], "same client port");
});

test("fetch: sequential requests reuse one keep-alive connection", async () => {
  const ports: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${url}/port`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("connection"), null);
    ports.push(await res.text());
    // undici hands the socket back to its pool a tick after the body ends;
    // without a pause it may open a second connection for the next request.
    await sleep(10);
  }
  const posted = await fetch(`${url}/echo`, { method: "POST", body: "payload" });
  const echo = (await posted.json()) as Echo;
  assert.equal(echo.body, "payload");
  await sleep(10);
  ports.push(await (await fetch(`${url}/port`)).text());
  assert.equal(new Set(ports).size, 1, `ports: ${ports.join(", ")}`);
});

test("fetch: a streamed response body arrives whole", async () => {
  const res = await fetch(`${url}/lines`);
  assert.equal(res.headers.get("transfer-encoding"), "chunked");
  assert.equal(await res.text(), Array.from({ length: LINES }, (_, i) => line(i)).join(""));
});
