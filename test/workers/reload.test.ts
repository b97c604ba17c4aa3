/**
 * SIGHUP after the app file changed: new workers with the new code start
 * listening before the old ones drain, so responses switch with no failure,
 * and no connection is stranded in a worker that stops, reload after reload.
 */

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, startCli } from "../helpers.ts";
import { FIXTURES, Load, waitFor } from "./support.ts";

test("SIGHUP reloads changed code with zero failed requests", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsgi-reload-"));
  const app = join(dir, "app.mjs");
  const source = readFileSync(join(ROOT, FIXTURES, "fetch_pid.js"), "utf8");
  writeFileSync(app, source);
  const cli = await startCli(["--port", "0", "--workers", "2", "--no-access-log", app]);
  let traffic: Load | undefined;
  try {
    const load = new Load(cli.port, "/?ms=20", 4);
    traffic = load;
    await waitFor(() => load.outcomes.filter((o) => o.ok).length >= 20, "responses from the first code");
    writeFileSync(app, source.replace('VERSION = "v1"', 'VERSION = "v2"'));
    cli.child.kill("SIGHUP");
    // Switched: the last 30 responses all come from the new code.
    await waitFor(() => {
      const last = load.outcomes.slice(-30);
      return last.length === 30 && last.every((o) => o.body.startsWith("v2 "));
    }, "responses from the new code");
    const outcomes = await load.stop();
    const failures = outcomes.filter((o) => !o.ok);
    assert.deepEqual(failures, [], "no request failed during the reload");
    assert.ok(outcomes.some((o) => o.body.startsWith("v1 ")));
    assert.match(cli.stderr(), /SIGHUP: reloading/);
    assert.match(cli.stderr(), /Reloaded/);
  } finally {
    await traffic?.stop();
    cli.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

// node:cluster's supervisor hands each accepted connection to a worker over
// IPC; one handed to a worker just as it stops must reach another worker, not
// hang with nobody reading it (a worker that exited before reading its IPC
// did that about once in ten reloads).
test("reload after reload under a stream of new connections: every request is answered", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsgi-reload-"));
  const app = join(dir, "app.mjs");
  const source = readFileSync(join(ROOT, FIXTURES, "fetch_pid.js"), "utf8");
  writeFileSync(app, source);
  const cli = await startCli(["--port", "0", "--workers", "1", "--no-access-log", app]);
  let traffic: Load | undefined;
  try {
    const load = new Load(cli.port, "/", 4, 3000);
    traffic = load;
    await waitFor(() => load.outcomes.some((o) => o.ok), "a first response");
    for (let v = 2; v <= 8; v++) {
      writeFileSync(app, source.replace('VERSION = "v1"', `VERSION = "v${v}"`));
      cli.child.kill("SIGHUP");
      await waitFor(() => load.outcomes.some((o) => o.body.startsWith(`v${v} `)), `responses from v${v}`);
      // Let the old worker finish stopping while connections keep coming.
      const seen = load.outcomes.length;
      await waitFor(() => load.outcomes.length >= seen + 40, "more responses");
    }
    const outcomes = await load.stop();
    const failures = outcomes.filter((o) => !o.ok).map((o) => o.error || `status ${o.status}`);
    assert.deepEqual(failures, [], "no request failed or hung across seven reloads");
  } finally {
    await traffic?.stop();
    cli.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
