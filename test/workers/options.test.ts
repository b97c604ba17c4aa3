/**
 * The pieces of --workers that need no process: the backoff schedule, the
 * --max-requests jitter, the command-line checks, and a failed boot.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCommandLine } from "../../src/cli/args.ts";
import { UsageError } from "../../src/runtime/errors.ts";
import { Backoff } from "../../src/workers/backoff.ts";
import { requestLimit } from "../../src/workers/options.ts";
import { runCli } from "../helpers.ts";
import { FIXTURES } from "./support.ts";

test("backoff: the first death is replaced at once, deaths in a row double the wait up to the ceiling", () => {
  const backoff = new Backoff({ baseMs: 100, maxMs: 1000, stableMs: 5000 });
  assert.deepEqual(
    Array.from({ length: 7 }, () => backoff.next(10)),
    [0, 100, 200, 400, 800, 1000, 1000],
  );
  assert.equal(backoff.next(5000), 0, "a worker that lived long enough starts a new run");
  assert.equal(backoff.next(10), 100);
});

test("--max-requests jitter adds 0..jitter requests; 0 means never", () => {
  assert.equal(requestLimit(0, 50), 0);
  assert.equal(
    requestLimit(100, 0, () => 0.99),
    100,
  );
  assert.equal(
    requestLimit(100, 10, () => 0),
    100,
  );
  assert.equal(
    requestLimit(100, 10, () => 0.999),
    110,
  );
});

test("the options parse into config.concurrency; seconds become milliseconds", () => {
  const config = parseCommandLine([
    "--workers",
    "3",
    "--threads",
    "2",
    "--max-requests",
    "100",
    "--max-requests-jitter",
    "0",
    "--timeout",
    "2.5",
    "app.ts",
  ]);
  assert.ok(typeof config === "object");
  assert.deepEqual(config.concurrency, {
    workers: 3,
    threads: 2,
    maxRequests: 100,
    maxRequestsJitter: 0,
    timeout: 2500,
  });
});

test("supervisor-only options without --workers, and --threads with a non-WSGI interface, are usage errors", () => {
  for (const argv of [
    ["--max-requests", "10", "app.ts"],
    ["--max-requests-jitter", "5", "app.ts"],
    ["--timeout", "5", "app.ts"],
    ["--threads", "2", "--interface", "fetch", "app.ts"],
    ["--workers", "0", "app.ts"],
    ["--threads", "x", "app.ts"],
  ]) {
    assert.throws(() => parseCommandLine(argv), UsageError, argv.join(" "));
  }
});

test("workers that cannot load the app: one line, exit 1, no worker left behind", async () => {
  const result = await runCli(["--port", "0", "--workers", "2", `${FIXTURES}/missing.js`]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    /^tsgi: error: module not found: test\/fixtures\/apps\/workers\/missing\.js\n$/,
  );
});
