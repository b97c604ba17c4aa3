/**
 * What a plain Fetch app's process does not load (docs/performance.md): the
 * CLI imports the TLS server and the other gateways (node:http with the
 * node:http-style one) only when asked for, and the Fetch gateway reaches undici (Request, Response,
 * Headers) only when the app asks for something only undici has. That is
 * possible where Node defines these globals as JavaScript getters (Node 20);
 * where they are V8 lazy data properties (Node 24), replacing one loads
 * undici, and with it node:http and node:tls, so there is nothing to check.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { type CliProcess, startCli } from "../helpers.ts";

/** Whether this Node's `Response` global is a JavaScript getter, asked of a fresh process. */
const lazyGlobals =
  execFileSync(
    process.execPath,
    ["-e", 'process.stdout.write(typeof Object.getOwnPropertyDescriptor(globalThis, "Response").get)'],
    { encoding: "utf8" },
  ) === "function";

interface Report {
  method: string;
  atImport: string[];
  now: string[];
}

describe("a Fetch app's process loads only what it uses", {
  skip: !lazyGlobals && "Node defines its web globals as lazy data properties",
}, () => {
  let cli: CliProcess;
  before(async () => {
    cli = await startCli(["--port", "0", "--no-access-log", "test/fixtures/apps/fetch_modules.mjs"]);
  });
  after(async () => {
    cli.child.kill("SIGTERM");
    await cli.exited;
  });

  const get = async (path: string): Promise<Report> => {
    const res = await fetch(`http://127.0.0.1:${cli.port}${path}`);
    assert.equal(res.status, 200);
    return (await res.json()) as Report;
  };

  test("string responses, method and url: no undici, TLS or node:http", async () => {
    for (let i = 0; i < 3; i++) {
      const report = await get("/");
      assert.equal(report.method, "GET");
      assert.deepEqual(
        report.now.filter((name) => !report.atImport.includes(name)),
        [],
        `loaded after the app's import: ${report.now.join(", ")}`,
      );
    }
  });

  test("reading request.headers builds undici's Headers, which loads undici", async () => {
    const report = await get("/headers");
    assert.ok(report.now.includes("internal/deps/undici/undici"), report.now.join(", "));
  });
});
