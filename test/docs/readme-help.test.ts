/** The README's CLI reference must be exactly what `tsgi --help` prints. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { helpText } from "../../src/cli/args.ts";

test("README.md shows the current --help output (copy it from `tsgi --help`)", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  assert.ok(
    readme.includes(`\`\`\`text\n${helpText()}\`\`\``),
    "README's CLI reference differs from helpText()",
  );
});
