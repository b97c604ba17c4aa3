/**
 * The web-platform tests for Request, Response and Headers (vendored in
 * test/wpt/wpt/, see test/wpt/README.md), run twice per file: with Node's
 * own classes, and with what tsgi gives apps (the light Response installed
 * as `globalThis.Response`, the Request the Fetch gateway hands the app,
 * made by a real HttpConnection, and the gateway's `fetch`). Every test
 * Node's classes pass on this Node version must pass with tsgi's, except
 * the differences listed in test/wpt/differences.json (each with its
 * reason, also in docs/interfaces/fetch.md); a listed difference that no
 * longer shows fails too, so the list stays true.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LightResponse, NativeResponse as nativeResponse } from "../../src/gateways/fetch/light-response.ts";
import { nativeFetch } from "../../src/gateways/fetch/natives.ts";
import { gatewayFetch, NativeRequest as nativeRequest } from "../../src/gateways/fetch/request.ts";
import { runFile, type Variant, WPT_ROOT } from "./harness.ts";
import { ServerRequest } from "./server-request.ts";

const NativeResponse = nativeResponse();
const NativeRequest = nativeRequest();

const NODE: Variant = {
  name: "node",
  Request: NativeRequest,
  Response: NativeResponse,
  fetch: nativeFetch(),
};
const TSGI: Variant = { name: "tsgi", Request: ServerRequest, Response: LightResponse, fetch: gatewayFetch };

const DIFFERENCES = JSON.parse(
  readFileSync(new URL("./differences.json", import.meta.url), "utf8"),
) as Record<string, Record<string, string>>;

test("every difference kept is explained in docs/interfaces/fetch.md", () => {
  const docs = readFileSync(new URL("../../docs/interfaces/fetch.md", import.meta.url), "utf8");
  for (const [file, tests] of Object.entries(DIFFERENCES))
    for (const [name, reason] of Object.entries(tests)) {
      assert.ok(docs.includes(name), `${file}: "${name}" is not in the docs`);
      assert.ok(docs.includes(reason), `${file}: the reason for "${name}" is not in the docs`);
    }
});

for (const dir of ["headers", "request", "response"]) {
  describe(`WPT fetch/api/${dir}`, () => {
    const files = readdirSync(join(WPT_ROOT, "fetch/api", dir))
      .filter((name) => name.endsWith(".any.js"))
      .sort();
    const counts = { tests: 0, node: 0, tsgi: 0 };
    for (const name of files) {
      const file = `fetch/api/${dir}/${name}`;
      test(name, async (t) => {
        const node = await runFile(file, NODE);
        const tsgi = await runFile(file, TSGI);
        assert.ok(node.size > 0, `${file}: no test ran`);
        const lost: string[] = [];
        let passed = 0;
        for (const [testName, outcome] of node) {
          if (outcome.status !== "PASS") continue;
          passed++;
          if (tsgi.get(testName)?.status !== "PASS") lost.push(testName);
        }
        const oursPassed = [...tsgi.values()].filter((o) => o.status === "PASS").length;
        counts.tests += node.size;
        counts.node += passed;
        counts.tsgi += oursPassed;
        t.diagnostic(`${node.size} tests: Node's classes pass ${passed}, tsgi's ${oursPassed}`);
        // A listed difference counts where Node's classes pass the test (they
        // may not on every Node version); there it must still show.
        const expected = Object.keys(DIFFERENCES[file] ?? {})
          .filter((n) => node.get(n)?.status === "PASS")
          .sort();
        const why = lost
          .filter((n) => !expected.includes(n))
          .map((n) => `  ${n}: ${tsgi.get(n)?.status ?? "missing"} ${tsgi.get(n)?.message ?? ""}`)
          .join("\n");
        assert.deepEqual(lost.sort(), expected, `passed with Node's classes, not with tsgi's:\n${why}`);
      });
    }
    test("totals", (t) => {
      t.diagnostic(
        `fetch/api/${dir}: ${counts.tests} tests, Node's classes pass ${counts.node}, tsgi's ${counts.tsgi}`,
      );
      assert.ok(counts.node > 0);
    });
  });
}
