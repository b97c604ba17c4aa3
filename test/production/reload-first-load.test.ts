/**
 * `--reload` when the app cannot even load at first: the reloader prints why
 * and waits, and the first change that fixes it brings the server up (as
 * uvicorn's reloader does), instead of exiting on a typo.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CLI } from "../helpers.ts";
import { waitFor } from "../workers/support.ts";
import { get } from "./operations-support.ts";

test("--reload waits for a fix when the app fails to load at first, then serves it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsgi-reload-first-"));
  const main = join(dir, "main.mjs");
  writeFileSync(main, "export default { fetch: () => new Response( };\n");
  const child = spawn(process.execPath, [CLI, "--port", "0", "--reload", "--no-access-log", "main.mjs"], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await waitFor(() => /failed to load; waiting for a change/.test(stderr), "the load error", 15_000);
    assert.equal(child.exitCode, null, "the reloader is still running");
    assert.doesNotMatch(stderr, /Listening on/);
    writeFileSync(main, 'export default { fetch: () => new Response("fixed") };\n');
    await waitFor(() => /Listening on http:\/\/[^\s]+:\d+/.test(stderr), "the server to come up", 15_000);
    const port = Number(/Listening on http:\/\/[^\s]+:(\d+)/.exec(stderr)![1]);
    assert.equal((await get(port, "/")).body, "fixed");
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
