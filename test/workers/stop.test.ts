/**
 * SIGTERM to the supervisor under load: new connections are refused at once,
 * every request in flight completes, and the supervisor exits 0 within the
 * graceful timeout.
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startCli } from "../helpers.ts";
import { FIXTURES, request, waitFor } from "./support.ts";

/** Resolves with the connection error code, or "connected". */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test("SIGTERM drains every in-flight request, refuses new connections, exits 0", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsgi-stop-"));
  const release = join(dir, "release");
  const cli = await startCli([
    "--port",
    "0",
    "--workers",
    "2",
    "--graceful-timeout",
    "10",
    "--no-access-log",
    `${FIXTURES}/fetch_pid.js`,
  ]);
  try {
    // Six requests that stay in flight until the test creates the release file.
    const inFlight = Array.from({ length: 6 }, () =>
      request(cli.port, `/wait?file=${release}`, { timeoutMs: 15_000 }),
    );
    await waitFor(() => (cli.stderr().match(/waiting for/g) ?? []).length === 6, "six requests in the app");
    const exitedWithin = Promise.race([
      cli.exited,
      new Promise((r) => setTimeout(() => r("still running after the graceful timeout"), 10_000)),
    ]);
    cli.child.kill("SIGTERM");

    // Poll: the listening socket closes once every worker has stopped accepting.
    let refused = "";
    for (let i = 0; i < 250 && refused !== "ECONNREFUSED"; i++) {
      refused = await tryConnect(cli.port);
      if (refused !== "ECONNREFUSED") await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(refused, "ECONNREFUSED", "new connections are refused while draining");

    writeFileSync(release, "");
    const outcomes = await Promise.all(inFlight);
    for (const o of outcomes) assert.ok(o.ok, `in-flight request failed: ${o.error || o.status}`);
    assert.equal(await exitedWithin, 0);
    assert.match(cli.stderr(), /SIGTERM: shutting down/);
  } finally {
    cli.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
