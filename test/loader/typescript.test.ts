/**
 * TypeScript apps: Node's own type stripping where it has it (Node 22.18+,
 * 24), with no tsx and no esbuild child process; tsx where Node cannot load
 * the app (an enum, `./x.js` meaning `x.ts`, a type imported without
 * `import type`), saying so in one line; tsx always on Node 20. An error
 * the app's own code throws is reported as it is, never retried.
 */

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, startCli } from "../helpers.ts";

const NATIVE = typeof (process.features as { typescript?: unknown }).typescript === "string";

const FILES: Record<string, string> = {
  "package.json": '{ "type": "module" }\n',
  "plain.ts":
    'const word: string = "plain";\nexport default { fetch: (_r: Request): Response => new Response(word) };\n',
  "enum.ts": 'enum A { x = 7 }\nexport default { fetch: () => new Response("enum " + A.x) };\n',
  "dep.ts": "export const v: number = 1;\n",
  "js_import.ts":
    'import { v } from "./dep.js";\nexport default { fetch: () => new Response("js import " + v) };\n',
  "types.ts": "export interface T { a: number }\nexport const v = 2;\n",
  "type_import.ts":
    'import { T, v } from "./types.ts";\nconst x: T = { a: v };\nexport default { fetch: () => new Response("type import " + x.a) };\n',
  "throws.ts": 'JSON.parse("{bad");\nexport default { fetch: () => new Response("never") };\n',
};

/** The child processes of `pid` (tsx starts an esbuild service process). */
function children(pid: number): number[] {
  const tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  return tasks === "" ? [] : tasks.split(" ").map(Number);
}

describe("TypeScript apps load with Node's type stripping, or tsx where it cannot", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsgi-ts-"));
    for (const [name, source] of Object.entries(FILES)) writeFileSync(join(dir, name), source);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, string, boolean][] = [
    ["plain.ts", "plain", false],
    ["enum.ts", "enum 7", true],
    ["js_import.ts", "js import 1", true],
    ["type_import.ts", "type import 2", true],
  ];
  for (const [app, body, needsTsx] of cases) {
    test(`${app}: ${needsTsx ? "tsx where Node strips types" : "Node strips its types where it can"}`, async () => {
      const cli = await startCli(["--port", "0", "--no-access-log", app], { cwd: dir, timeoutMs: 30_000 });
      try {
        assert.equal(await (await fetch(`http://127.0.0.1:${cli.port}/`)).text(), body);
        const fallback = /Loaded .* with tsx: Node's type stripping could not/.test(cli.stderr());
        assert.equal(fallback, NATIVE && needsTsx, cli.stderr());
        // Without tsx no esbuild service runs beside the server.
        if (NATIVE && !needsTsx) assert.deepEqual(children(cli.child.pid!), []);
      } finally {
        cli.child.kill("SIGTERM");
        await cli.exited;
      }
    });
  }

  test("an error thrown by the app's own code is reported once, not retried with tsx", async () => {
    const result = await runCli(["--port", "0", "throws.ts"], { cwd: dir, timeoutMs: 30_000 });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error while importing throws\.ts: .*JSON/);
    assert.doesNotMatch(result.stderr, /with tsx/);
  });
});
