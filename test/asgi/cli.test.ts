/**
 * Lifespan through the built CLI (dist/cli/main.js): startup completes
 * before the "Listening on" line and shutdown runs after SIGTERM (an ASGI
 * app's lifespan scope and a Fetch app's hooks), a failed startup exits 1
 * with its message on one line, a port already taken after startup ran still
 * runs the shutdown (one process and --workers), a failed shutdown exits 1, --startup-timeout
 * reaches the app; --lifespan is checked in-process. Each run spawns a CLI,
 * so the fixtures are plain .js (no TypeScript loader) and the runs few.
 * Needs `npm run build` first (`npm test` does it).
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { before, describe, test } from "node:test";
import { parseCommandLine } from "../../src/cli/args.ts";
import { UsageError } from "../../src/runtime/errors.ts";
import { CLI, runCli, startCli } from "../helpers.ts";

const APPS = "test/fixtures/apps";

before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
});

/** Runs `fn` with environment variables set for the CLI child processes it spawns. */
async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
  }
}

describe("lifespan through the CLI", () => {
  for (const [kind, app, body] of [
    ["an ASGI-style app's lifespan scope", "asgi_lifespan.js", "hello from startup"],
    ["a Fetch app's startup()/shutdown()", "fetch_hooks.js", "fetch with hooks"],
  ] as const) {
    test(`${kind}: startup completes before Listening on; shutdown runs after SIGTERM; exit 0`, async () => {
      const cli = await startCli(["--port", "0", "--no-access-log", `${APPS}/${app}`]);
      const err = cli.stderr();
      assert.ok(err.indexOf("fixture: startup done") !== -1, err);
      assert.ok(err.indexOf("fixture: startup done") < err.indexOf("Listening on"), err);
      const res = await fetch(`http://127.0.0.1:${cli.port}/`);
      assert.equal(await res.text(), body);
      cli.child.kill("SIGTERM");
      assert.equal(await cli.exited, 0, cli.stderr());
      assert.match(cli.stderr(), /fixture: shutdown/);
    });
  }

  for (const [kind, app, extra] of [
    ["an ASGI-style app's lifespan.shutdown", "asgi_lifespan.js", []],
    ["a Fetch app's shutdown()", "fetch_hooks.js", []],
    ["with --workers 1, the worker's lifespan.shutdown", "asgi_lifespan.js", ["--workers", "1"]],
  ] as const) {
    test(`the port is taken after startup ran: ${kind} runs before exit 1 (uvicorn)`, async () => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = taken.address() as { port: number };
        const result = await runCli([
          ...extra,
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          `${APPS}/${app}`,
        ]);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /fixture: startup done/);
        assert.match(result.stderr, /tsgi: error: .*in use/);
        assert.match(result.stderr, /fixture: shutdown/);
        assert.doesNotMatch(result.stderr, /Listening on/);
      } finally {
        taken.close();
      }
    });
  }

  test("a failed startup: exit 1 with the message on one line, never listening", async () => {
    const result = await withEnv({ FAIL_STARTUP: "no database" }, () =>
      runCli(["--port", "0", `${APPS}/asgi_lifespan.js`]),
    );
    assert.equal(result.code, 1, result.stderr);
    assert.doesNotMatch(result.stderr, /Listening on/);
    assert.match(result.stderr, /^tsgi: error: application startup failed: no database$/m);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });

  test("a failed shutdown exits 1 after the server closed", async () => {
    const cli = await withEnv({ FAIL_SHUTDOWN: "flush failed" }, () =>
      startCli(["--port", "0", `${APPS}/asgi_lifespan.js`]),
    );
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 1, cli.stderr());
    assert.match(cli.stderr(), /tsgi: error: application shutdown failed: flush failed/);
  });

  test("a startup slower than --startup-timeout: exit 1, even with the app's handles still open", async () => {
    const result = await runCli(["--port", "0", "--startup-timeout", "0.05", `${APPS}/fetch_hooks.js`], {
      timeoutMs: 5000,
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /tsgi: error: application startup did not complete within 0\.05s/);
  });
});

describe("lifespan options", () => {
  test("--lifespan takes auto, on or off; the timeouts are seconds", () => {
    const config = parseCommandLine([
      "--lifespan",
      "off",
      "--startup-timeout",
      "1.5",
      "--shutdown-timeout",
      "0",
      "app.js",
    ]);
    assert.ok(typeof config === "object");
    assert.deepEqual(config.gateway, { lifespan: "off", startupTimeout: 1500, shutdownTimeout: 0 });
    assert.throws(
      () => parseCommandLine(["--lifespan", "maybe", "app.js"]),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, /--lifespan must be one of auto, on, off/);
        return true;
      },
    );
  });
});
