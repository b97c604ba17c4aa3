/**
 * `--reload` never reloads on the server's own output: an access log file and
 * a redirected stdout/stderr inside the watched directory used to restart the
 * server after every request, or in a loop with no traffic at all. Only
 * source files reload (by extension, `--reload-include` / `--reload-exclude`
 * as uvicorn has them). Deterministic: each test waits for log lines and
 * files, and the reloader names every path of a burst, so a reload caused by
 * a log file shows in the first reload line whatever the timing.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseCommandLine } from "../../src/cli/args.ts";
import { compileGlob } from "../../src/reload/glob.ts";
import { ReloadFilter } from "../../src/reload/watcher.ts";
import { CLI } from "../helpers.ts";
import { waitFor } from "../workers/support.ts";
import { get } from "./operations-support.ts";

const APP = (version: string) => `export default { fetch: () => new Response("${version}") };\n`;

/** The "--reload: ... changed, reloading" lines in `text`. */
function reloadLines(text: string): string[] {
  return text.split("\n").filter((line) => /--reload: .* changed, reloading/.test(line));
}

/** How many reloads completed ("Reloaded: workers ... serve the new code"). */
function reloaded(text: string): number {
  return text.split("\n").filter((line) => line.includes("Reloaded: workers")).length;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

describe("--reload and the server's own output", () => {
  test("an access log file in the watched directory: requests do not reload; a source edit does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsgi-reload-log-"));
    writeFileSync(join(dir, "app.mjs"), APP("v1"));
    const child = spawn(
      process.execPath,
      [CLI, "--port", "0", "--reload", "--access-log", "access.log", "app.mjs"],
      {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor(() => /Listening on http:\/\/[^\s]+:\d+/.test(stderr), "Listening on", 15_000);
      const port = Number(/Listening on http:\/\/[^\s]+:(\d+)/.exec(stderr)![1]);
      for (let i = 0; i < 3; i++) assert.equal((await get(port, `/${i}`)).body, "v1");
      // The lines are on disk (and their change events queued) before the edit below.
      const log = join(dir, "access.log");
      await waitFor(() => readOr(log).split("\n").length > 3, "3 access lines in access.log", 15_000);
      writeFileSync(join(dir, "app.mjs"), APP("v2"));
      await waitFor(() => reloadLines(stderr).length > 0, "a reload", 15_000);
      assert.deepEqual(reloadLines(stderr), [`INFO: --reload: ${join(dir, "app.mjs")} changed, reloading`]);
      await waitFor(() => reloaded(stderr) === 1, "the new worker", 15_000);
      assert.equal((await get(port, "/")).body, "v2");
      // The new worker appends to the same file: still no reload.
      assert.equal((await get(port, "/again")).body, "v2");
      await waitFor(() => readOr(log).includes("/again"), "the last access line", 15_000);
      writeFileSync(join(dir, "app.mjs"), APP("v3"));
      await waitFor(() => reloadLines(stderr).length > 1, "the second reload", 15_000);
      await waitFor(() => reloaded(stderr) === 2, "the newer worker", 15_000);
      assert.equal((await get(port, "/")).body, "v3");
      assert.deepEqual(reloadLines(stderr).slice(1), [
        `INFO: --reload: ${join(dir, "app.mjs")} changed, reloading`,
      ]);
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("stdout and stderr redirected to a file in the watched directory: no reload loop", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsgi-reload-out-"));
    writeFileSync(join(dir, "app.mjs"), APP("v1"));
    const out = join(dir, "server.log");
    // `tsgi --reload app.mjs > server.log 2>&1`: the access log (stdout) and the reloader's own lines.
    const fd = openSync(out, "a");
    const child = spawn(process.execPath, [CLI, "--port", "0", "--reload", "app.mjs"], {
      cwd: dir,
      stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor(() => /Listening on http:\/\/[^\s]+:\d+/.test(readOr(out)), "Listening on", 15_000);
      const port = Number(/Listening on http:\/\/[^\s]+:(\d+)/.exec(readOr(out))![1]);
      assert.equal((await get(port, "/")).body, "v1");
      await waitFor(() => readOr(out).includes('"GET / HTTP/1.1" 200'), "the access line", 15_000);
      writeFileSync(join(dir, "app.mjs"), APP("v2"));
      await waitFor(() => reloadLines(readOr(out)).length > 0, "a reload", 15_000);
      assert.deepEqual(reloadLines(readOr(out)), [
        `INFO: --reload: ${join(dir, "app.mjs")} changed, reloading`,
      ]);
      await waitFor(() => reloaded(readOr(out)) === 1, "the new worker", 15_000);
      assert.equal((await get(port, "/")).body, "v2");
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      // Every line the server wrote after the edit is in the file: one reload, for the edit.
      assert.equal(reloadLines(readOr(out)).length, 1, readOr(out));
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("--reload-include / --reload-exclude", () => {
  test("globs: a name pattern anywhere, a path pattern at the end of the path, ** across directories", () => {
    const cases: [string, string, boolean][] = [
      ["*.ts", "app.ts", true],
      ["*.ts", "src/deep/app.ts", true],
      ["*.ts", "app.tsx", false],
      ["*.ts", "app.ts/x", false],
      ["app.?s", "app.js", true],
      ["app.?s", "app.mjs", false],
      ["[abc]*.json", "b.json", true],
      ["[!abc]*.json", "b.json", false],
      ["[a-c]*.json", "c1.json", true],
      [".*", ".#app.ts", true],
      [".*", "src/.env", true],
      [".*", "app.ts", false],
      ["lib/*.json", "lib/x.json", true],
      ["lib/*.json", "a/lib/x.json", true],
      ["lib/*.json", "lib/a/x.json", false],
      ["src/**/*.sql", "src/a/b/q.sql", true],
      ["src/**/*.sql", "src/q.sql", true],
      ["src/**/*.sql", "other/q.sql", false],
      ["a+b(1).txt", "a+b(1).txt", true],
      ["a+b(1).txt", "aab(1).txt", false],
    ];
    for (const [pattern, path, expected] of cases) {
      assert.equal(compileGlob(pattern).matches(path), expected, `${pattern} ~ ${path}`);
    }
  });

  test("the rules: default extensions; a given exclude wins; a given include overrides the default excludes", () => {
    const defaults = new ReloadFilter();
    for (const path of ["app.ts", "a.tsx", "a.mts", "a.cts", "a.js", "a.mjs", "a.cjs", "lib/config.json"]) {
      assert.equal(defaults.reloads(path), true, path);
    }
    for (const path of [
      "access.log",
      "server.log",
      "app.ts~",
      ".#app.ts",
      "notes.md",
      "data.sqlite",
      ".env",
    ]) {
      assert.equal(defaults.reloads(path), false, path);
    }
    const custom = new ReloadFilter([".env", "templates/*.html"], ["*.test.ts", "generated/*"]);
    assert.equal(custom.reloads(".env"), true);
    assert.equal(custom.reloads("templates/index.html"), true);
    assert.equal(custom.reloads("app.test.ts"), false);
    assert.equal(custom.reloads("generated/schema.json"), false);
    assert.equal(custom.reloads("app.ts"), true);
    assert.equal(custom.skipsDirectory("generated"), false, "generated/* names files in it");
    assert.equal(new ReloadFilter([], ["generated"]).skipsDirectory("a/generated"), true);
  });

  test("both options repeat, on the command line and in TSGI_RELOAD_INCLUDE / TSGI_RELOAD_EXCLUDE", () => {
    const config = parseCommandLine(
      ["--reload-include", "*.html", "--reload-include", ".env", "--reload-exclude", "*.test.ts", "app.ts"],
      {},
    );
    assert.ok(typeof config === "object");
    assert.deepEqual(config.operations.reloadIncludes, ["*.html", ".env"]);
    assert.deepEqual(config.operations.reloadExcludes, ["*.test.ts"]);
    const fromEnv = parseCommandLine(["app.ts"], {
      TSGI_RELOAD_INCLUDE: "*.html:*.sql",
      TSGI_RELOAD_EXCLUDE: "tmp/*",
    });
    assert.ok(typeof fromEnv === "object");
    assert.deepEqual(fromEnv.operations.reloadIncludes, ["*.html", "*.sql"]);
    assert.deepEqual(fromEnv.operations.reloadExcludes, ["tmp/*"]);
  });
});
