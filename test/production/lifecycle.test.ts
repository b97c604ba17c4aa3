/**
 * Draining for orchestrators and `--reload`: after SIGTERM with
 * `--shutdown-delay`, the health path answers 503 while other requests are
 * still served, then the server exits 0 (one process and `--workers 2`); a
 * second signal forces the exit; `--reload` switches to new code on a file
 * change, keeps the old code serving when the new code fails to load, and
 * picks up the fix.
 */

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { waitFor as waitUntil } from "../workers/support.ts";
import { exitWithin, type Got, get, startTsgi, type Tsgi } from "./operations-support.ts";

let dir: string;
let app: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "tsgi-life-"));
  app = join(dir, "app.mjs");
  writeFileSync(app, `export default { fetch: () => new Response("app\\n") };\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts polling `path` in the background, keeping the latest response in the returned getter. */
function poll(port: number, path: string): { latest: () => Got | null; stop: () => void } {
  let latest: Got | null = null;
  let running = true;
  void (async () => {
    while (running) {
      latest = await get(port, path).catch(() => latest);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { latest: () => latest, stop: () => (running = false) };
}

describe("--shutdown-delay with --health-path", () => {
  for (const workers of [[], ["--workers", "2"]]) {
    test(`health 200, SIGTERM, health 503 while requests still succeed, exit 0${workers.length > 0 ? " (--workers 2)" : ""}`, async () => {
      const tsgi = await startTsgi([
        "--port",
        "0",
        "--health-path",
        "/healthz",
        "--shutdown-delay",
        "2",
        "--no-access-log",
        ...workers,
        app,
      ]);
      try {
        const healthy = await get(tsgi.port, "/healthz");
        assert.equal(healthy.status, 200);
        assert.equal(healthy.body, "ok\n");
        assert.equal((await get(tsgi.port, "/healthz?probe=1")).status, 200);
        assert.equal((await get(tsgi.port, "/")).body, "app\n");
        tsgi.child.kill("SIGTERM");
        // Every worker answers 503 (with two workers, two in a row means both were told).
        let unhealthy = 0;
        for (let i = 0; i < 200 && unhealthy < 2; i++) {
          const r = await get(tsgi.port, "/healthz");
          unhealthy = r.status === 503 ? unhealthy + 1 : 0;
        }
        assert.equal(unhealthy, 2, "the health path answers 503 after SIGTERM");
        const late = await get(tsgi.port, "/");
        assert.equal(late.status, 200, "requests are still served during the delay");
        assert.equal(late.body, "app\n");
        assert.equal(await exitWithin(tsgi, 15_000), 0);
        assert.match(tsgi.stderr(), /failing health checks, still serving for 2s/);
      } finally {
        tsgi.kill();
      }
    });
  }

  test("a second SIGTERM during the delay exits at once with status 1", async () => {
    const tsgi = await startTsgi(["--port", "0", "--health-path", "/healthz", "--shutdown-delay", "60", app]);
    try {
      tsgi.child.kill("SIGTERM");
      let status = 0;
      for (let i = 0; i < 200 && status !== 503; i++) status = (await get(tsgi.port, "/healthz")).status;
      assert.equal(status, 503);
      tsgi.child.kill("SIGTERM");
      // Well before the 60 s delay would have ended.
      assert.equal(await exitWithin(tsgi, 10_000), 1);
      assert.match(tsgi.stderr(), /SIGTERM again: exiting without waiting/);
    } finally {
      tsgi.kill();
    }
  });
});

describe("--reload", () => {
  test("new code on change; a broken edit keeps the old code serving and prints why; the fix is picked up", async () => {
    const project = join(dir, "reload");
    mkdirSync(join(project, "lib"), { recursive: true });
    const version = join(project, "lib", "version.mjs");
    writeFileSync(version, `export const VERSION = "v1";\n`);
    const main = join(project, "main.mjs");
    writeFileSync(
      main,
      `import { VERSION } from "./lib/version.mjs";\nexport default { fetch: () => new Response(VERSION) };\n`,
    );
    let tsgi: Tsgi | null = null;
    try {
      tsgi = await startTsgi(["--port", "0", "--reload", "--no-access-log", "main.mjs"], { cwd: project });
      const t = tsgi;
      // On a timeout, the server's log says which step went missing.
      const waitFor = (ok: () => boolean, what: string, ms: number) =>
        waitUntil(ok, what, ms).catch((err: Error) => {
          throw new Error(`${err.message}\n--- tsgi stderr ---\n${t.stderr()}`);
        });
      assert.equal((await get(t.port, "/")).body, "v1");
      const body = poll(t.port, "/");
      try {
        // A change in an imported file, in a subdirectory of the app's.
        writeFileSync(version, `export const VERSION = "v2";\n`);
        await waitFor(() => body.latest()?.body === "v2", "v2 to be served", 15_000);
        writeFileSync(version, `export const VERSION = ;\n`);
        await waitFor(() => /reload failed/.test(t.stderr()), "the reload to fail", 15_000);
        assert.match(
          t.stderr(),
          /reload failed, the running workers keep serving: .*version\.mjs|SyntaxError|Unexpected token/,
        );
        assert.equal((await get(t.port, "/")).body, "v2", "the old code keeps serving");
        writeFileSync(version, `export const VERSION = "v3";\n`);
        await waitFor(() => body.latest()?.body === "v3", "v3 to be served", 15_000);
      } finally {
        body.stop();
      }
      t.child.kill("SIGTERM");
      assert.equal(await exitWithin(t, 10_000), 0);
    } finally {
      tsgi?.kill();
    }
  });
});
