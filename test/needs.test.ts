/**
 * The tests that need a program `npm ci` cannot bring, run with a PATH that
 * hides every such program: on a developer's machine they skip with one line
 * naming the program and its Debian package, and the file still passes;
 * with `CI=true` the same run fails and names the program.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ROOT } from "./helpers.ts";

const FILES = [
  "test/production/nginx.test.ts",
  "test/production/redis-chat.test.ts",
  "test/production/tls.test.ts",
  "test/production/proxy.test.ts",
  "test/server/clients.test.ts",
  "test/websocket/chat-browser.test.ts",
];

// A PATH with nothing on it but node.
const bin = mkdtempSync(join(tmpdir(), "tsgi-path-"));
symlinkSync(process.execPath, join(bin, "node"));
after(() => rmSync(bin, { recursive: true, force: true }));

function runTests(
  files: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, PATH: bin, ...env };
  delete childEnv.CHROMIUM_PATH;
  // The parent runner's own variables would make the child report to it.
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=2", ...files],
    { cwd: ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

test("without the programs: the tests that need them skip, naming program and package", async () => {
  const { code, output } = await runTests(FILES, { CI: "" });
  assert.equal(code, 0, output);
  for (const line of [
    "needs nginx, not found on this machine: apt-get install nginx",
    "needs redis-server, not found on this machine: apt-get install redis-server",
    "needs openssl, not found on this machine: apt-get install openssl",
    "needs curl, not found on this machine: apt-get install curl",
    "needs chromium, not found on this machine: apt-get install chromium",
  ]) {
    assert.ok(output.includes(line), `expected the skip line "${line}" in:\n${output}`);
  }
  // The tests that need nothing more still ran and passed.
  assert.match(output, /✔ fetch: sequential requests reuse one keep-alive connection/);
  assert.match(output, /✔ docs\/deploy.md shows both nginx files exactly as the tests run them/);
});

test("with CI=true: a missing program fails the run and is named", async () => {
  const { code, output } = await runTests(["test/production/redis-chat.test.ts"], { CI: "true" });
  assert.notEqual(code, 0, output);
  assert.match(
    output,
    /CI=true and a test program is missing: needs redis-server, not found on this machine: apt-get install redis-server/,
  );
});
