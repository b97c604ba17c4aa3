/**
 * The nextTick records a server holds (src/server/tick-shape.ts): records
 * made after a server has idled through full GCs keep the hidden classes
 * of the held ones, so V8's feedback for Node's nextTick literal stays
 * monomorphic. Run in a child process with `--expose-gc` and
 * `--allow-natives-syntax` (test/fixtures/tick-shape-probe.mjs).
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const PROBE = fileURLToPath(new URL("../fixtures/tick-shape-probe.mjs", import.meta.url));

test("a listening server holds nextTick's record shapes through idle full GCs", () => {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", "--expose-gc", "--allow-natives-syntax", PROBE],
    {
      encoding: "utf8",
    },
  );
  const report = JSON.parse(out) as { held: number; heldAtListen: boolean; sameMaps: boolean[] };
  // One record without arguments, one with.
  assert.equal(report.held, 2);
  // Taken by listen(), not by the probe's own call afterwards.
  assert.equal(report.heldAtListen, true);
  assert.deepEqual(report.sameMaps, [true, true]);
});
