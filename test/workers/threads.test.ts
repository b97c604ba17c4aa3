/**
 * `--threads`: a blocking WSGI-style app runs on a pool of worker threads.
 * Concurrency is asserted structurally (the blocking intervals overlap and
 * come from different threads), never by timing.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type CliProcess, runCli, startCli } from "../helpers.ts";
import { FIXTURES, request } from "./support.ts";

const APP = `${FIXTURES}/wsgi_threads.js`;

describe("--threads 4", () => {
  let cli: CliProcess;
  before(async () => {
    cli = await startCli(["--port", "0", "--threads", "4", "--no-access-log", APP]);
  });
  after(() => {
    cli.child.kill("SIGKILL");
  });

  const json = async (path: string) => {
    const o = await request(cli.port, path);
    assert.ok(o.ok, `${path}: ${o.error || o.status}`);
    return JSON.parse(o.body) as Record<string, unknown>;
  };

  /**
   * The threads a batch of four concurrent blocking requests ran on, retried
   * until the batch spread over four: on a loaded machine one request may end
   * before the last one arrives, and a replacement thread needs a moment to
   * load the app.
   */
  const fourThreads = async (): Promise<Set<number>> => {
    let seen = new Set<number>();
    for (let i = 0; i < 50 && seen.size < 4; i++) {
      const batch = await Promise.all(Array.from({ length: 4 }, () => json("/block?ms=300")));
      seen = new Set(batch.map((r) => r.threadId as number));
    }
    return seen;
  };

  test("four blocking requests run at the same time, on four threads", async () => {
    type Block = { threadId: number; start: number; end: number };
    // Every request started blocking before any of them finished: they
    // overlapped. Serialized requests never do; a loaded machine may delay one
    // request past the others' end, so a few batches are allowed.
    const overlapped = (batch: Block[]) =>
      new Set(batch.map((r) => r.threadId)).size === 4 &&
      Math.max(...batch.map((r) => r.start)) < Math.min(...batch.map((r) => r.end));
    let batch: Block[] = [];
    for (let i = 0; i < 10 && !overlapped(batch); i++) {
      batch = (await Promise.all(Array.from({ length: 4 }, () => json("/block?ms=300")))) as Block[];
    }
    assert.ok(overlapped(batch), `four threads, overlapping: ${JSON.stringify(batch)}`);
  });

  test("wsgi.multithread is true (and wsgi.multiprocess false without --workers)", async () => {
    const env = await json("/env");
    assert.equal(env.multithread, true);
    assert.equal(env.multiprocess, false);
    assert.notEqual(env.threadId, 0, "the app runs off the main thread");
  });

  test("a request body reaches the thread intact", async () => {
    const body = randomBytes(1024 * 1024 + 17);
    const o = await request(cli.port, "/echo", { body });
    assert.ok(o.ok);
    assert.ok(Buffer.from(o.body, "latin1").equals(body));
  });

  test("a streamed response arrives whole and in order (more than the flow-control window)", async () => {
    const n = 5000;
    const size = 1024; // 5 MiB in 1 KiB chunks, far past the 256 KiB window
    const o = await request(cli.port, `/stream?n=${n}&size=${size}`, { timeoutMs: 20_000 });
    assert.ok(o.ok, o.error);
    const lines = o.body.split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines.length, n);
    for (let i = 0; i < n; i++) {
      if (!lines[i]!.startsWith(String(i).padStart(8, "0")))
        assert.fail(`line ${i} is ${lines[i]!.slice(0, 8)}`);
    }
  });

  test("an app that throws gives a 500 and the pool keeps serving", async () => {
    const o = await request(cli.port, "/throw");
    assert.equal(o.status, 500);
    assert.match(cli.stderr(), /boom from a thread/);
    await json("/env");
  });

  test("a thread that exits fails its request with 500 and is replaced", async () => {
    const before = await fourThreads();
    assert.equal(before.size, 4);
    const o = await request(cli.port, "/exit");
    assert.equal(o.status, 500);
    assert.match(cli.stderr(), /exited with code 7/);
    // Four concurrent requests find four threads again, one of them new.
    const now = await fourThreads();
    assert.equal(now.size, 4);
    assert.ok(
      [...now].some((id) => !before.has(id)),
      "a new thread took the dead one's place",
    );
  });
});

test("--threads with a Fetch app is a usage error", async () => {
  const result = await runCli(["--port", "0", "--threads", "2", `${FIXTURES}/fetch_pid.js`]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    /^tsgi: error: --threads runs WSGI-style \(synchronous\) apps; .* is a fetch app/,
  );
});
