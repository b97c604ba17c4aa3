/**
 * `kill -9` of one worker under steady load: the supervisor replaces it
 * within 2 s, and the only failed requests are ones that dead worker had in
 * flight (or was being handed before the supervisor saw it die).
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { startCli } from "../helpers.ts";
import { FIXTURES, Load, pidOf, waitFor } from "./support.ts";

const CLIENTS = 6;

test("a worker killed with SIGKILL under load is replaced within 2 s; only its own requests fail", async () => {
  const cli = await startCli([
    "--port",
    "0",
    "--workers",
    "2",
    "--no-access-log",
    `${FIXTURES}/fetch_pid.js`,
  ]);
  let traffic: Load | undefined;
  try {
    // Every request takes 50 ms, so each worker always has some in flight.
    const load = new Load(cli.port, "/?ms=50", CLIENTS, 3000);
    traffic = load;
    await waitFor(
      () => new Set(load.outcomes.filter((o) => o.ok).map(pidOf)).size === 2,
      "both workers to answer",
    );
    const original = new Set(load.outcomes.filter((o) => o.ok).map(pidOf));
    const [victim] = [...original];
    process.kill(victim!, "SIGKILL");
    // Until the supervisor has seen the worker die, node:cluster may still hand
    // it a new connection, which is lost with it: such a request counts as the
    // dead worker's own (it was in flight to it), not as one sent after the kill.
    await waitFor(
      () => new RegExp(`worker ${victim} died`).test(cli.stderr()),
      "the supervisor to see the death",
    );
    const killedAt = Date.now();

    let replacement = 0;
    await waitFor(
      () => {
        const fresh = load.outcomes.find((o) => o.ok && !original.has(pidOf(o)));
        if (fresh !== undefined) replacement = pidOf(fresh);
        return replacement !== 0;
      },
      "a response from a replacement worker",
      2000,
    );
    assert.ok(replacement !== 0, `replaced ${Date.now() - killedAt} ms after the kill`);
    // Keep the load on a while with the replacement in service.
    const seen = load.outcomes.length;
    await waitFor(() => load.outcomes.length >= seen + 60, "60 more requests");
    const outcomes = await load.stop();

    const failures = outcomes.filter((o) => !o.ok);
    // Each client has one request in flight at a time, so at most CLIENTS
    // requests can have been inside the dead worker, all sent before the kill.
    assert.ok(failures.length <= CLIENTS, `${failures.length} failures: ${JSON.stringify(failures)}`);
    // Everything sent after the kill went to the surviving worker or the replacement, and succeeded.
    for (const f of failures)
      assert.ok(f.start <= killedAt, `a request sent after the kill failed: ${f.error}`);
    assert.match(cli.stderr(), new RegExp(`worker ${victim} died \\(signal SIGKILL\\)`));
  } finally {
    await traffic?.stop();
    cli.child.kill("SIGKILL");
  }
});
