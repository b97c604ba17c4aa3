/**
 * The WPT comparison and the real-socket tests of the standard behaviour
 * again, with the `undici` package's classes (undici 7, as Node 22+ bundle)
 * in place of Node's before tsgi loads (test/wpt/undici-globals.mjs). On
 * Node 20, whose bundled undici keeps a Request's state in symbol-keyed
 * fields, this is what shows that nothing depends on them: undici 7 keeps it
 * in private fields no facade can have.
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

test("WPT and standard behaviour with undici 7's classes as the natives", () => {
  const run = spawnSync(
    process.execPath,
    [
      "--import",
      "./test/wpt/undici-globals.mjs",
      "--import",
      "tsx",
      "--test",
      "--test-reporter=tap",
      "test/wpt/wpt.test.ts",
      "test/fetch/standard.test.ts",
    ],
    // Without NODE_TEST_CONTEXT, which would make the child report to this runner instead of running.
    { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
  );
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, output);
  assert.match(run.stdout, /^# fail 0$/m, output);
  const passed = Number(/^# pass (\d+)$/m.exec(run.stdout)?.[1] ?? 0);
  assert.ok(passed >= 70, `only ${passed} tests ran:\n${output}`);
});
