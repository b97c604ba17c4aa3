/** docs/http1-states.md must be what scripts/states-doc.ts makes from the state table. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { statesDoc } from "../../scripts/states-doc.ts";

test("docs/http1-states.md matches the state table (run npm run docs:states)", () => {
  const onDisk = readFileSync(new URL("../../docs/http1-states.md", import.meta.url), "utf8");
  assert.equal(onDisk, statesDoc());
});
