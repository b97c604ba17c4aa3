/**
 * Workers replaced by the supervisor on its own: a worker stuck in an
 * infinite loop after `--timeout`, and a worker that served `--max-requests`.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { startCli } from "../helpers.ts";
import { FIXTURES, type Outcome, pidOf, request } from "./support.ts";

test("a worker stuck in an infinite loop is killed after --timeout and replaced", async () => {
  const cli = await startCli([
    "--port",
    "0",
    "--workers",
    "1",
    "--timeout",
    "1",
    "--no-access-log",
    `${FIXTURES}/fetch_pid.js`,
  ]);
  try {
    const first = await request(cli.port, "/");
    assert.ok(first.ok);
    const stuck = pidOf(first);
    const spin = request(cli.port, "/spin", { timeoutMs: 15_000 });
    // Poll until a different worker answers; failures meanwhile are expected (the only worker is stuck).
    const replaced = (o: Outcome | null) => o?.ok === true && pidOf(o) !== stuck;
    let next: Outcome | null = null;
    for (let i = 0; i < 300 && !replaced(next); i++) {
      next = await request(cli.port, "/", { timeoutMs: 500 });
      if (!next.ok) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(replaced(next), "a new worker serves");
    const spun = await spin;
    assert.equal(spun.ok, false, "the stuck request fails with its worker");
    assert.match(
      cli.stderr(),
      new RegExp(`worker ${stuck} timed out \\(no heartbeat for [0-9.]+s\\): SIGKILL`),
    );
  } finally {
    cli.child.kill("SIGKILL");
  }
});

test("--max-requests replaces a worker once it has served that many, with no failed request", async () => {
  const cli = await startCli([
    "--port",
    "0",
    "--workers",
    "1",
    "--max-requests",
    "5",
    "--no-access-log",
    `${FIXTURES}/fetch_pid.js`,
  ]);
  try {
    const outcomes: Outcome[] = [];
    // Sequential requests until a third worker has answered. Bounded by time,
    // not by a request count: a replacement takes a second or more to boot
    // on a busy machine, which is hundreds of requests.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && new Set(outcomes.map(pidOf)).size < 3) {
      outcomes.push(await request(cli.port, "/"));
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.deepEqual(
      outcomes.filter((o) => !o.ok),
      [],
    );
    const pids = [...new Set(outcomes.map(pidOf))];
    assert.ok(pids.length >= 3, `workers seen: ${pids.join(", ")}\n${cli.stderr()}`);
    // The first worker served at least its limit before the replacement took over.
    assert.ok(outcomes.filter((o) => pidOf(o) === pids[0]).length >= 5);
    assert.match(cli.stderr(), /served 5 requests \(--max-requests\): replacing it/);
  } finally {
    cli.child.kill("SIGKILL");
  }
});
