/**
 * A small runner for the vendored web-platform tests (test/wpt/wpt/): loads
 * `resources/testharness.js` into this realm, then a test file's META
 * scripts and the file itself, and collects each test's status. Each file
 * runs once per {@link Variant}: with Node's own `Request`/`Response`/
 * `fetch`, and with tsgi's (the light Response, the Request a Fetch app
 * receives, the gateway's `fetch`), so the two can be compared test by test.
 * Same realm, not `vm.createContext`: the tests compare error classes
 * (`TypeError`) with the ones Node's classes throw.
 */

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runInThisContext } from "node:vm";

export const WPT_ROOT = fileURLToPath(new URL("./wpt/", import.meta.url));

/** The classes a variant puts in the globals the tests use. */
export interface Variant {
  name: string;
  Request: unknown;
  Response: unknown;
  fetch: unknown;
}

/** testharness.js statuses. */
const STATUS = ["PASS", "FAIL", "TIMEOUT", "NOTRUN", "PRECONDITION_FAILED"] as const;

export interface Outcome {
  status: (typeof STATUS)[number];
  message: string | null;
}

interface HarnessTest {
  name: string;
  status: number;
  message: string | null;
}

type Harness = {
  add_result_callback(callback: (test: HarnessTest) => void): void;
  add_completion_callback(
    callback: (tests: HarnessTest[], status: { status: number; message: string | null }) => void,
  ): void;
};

/**
 * A file that has not completed after this long gets its unfinished tests
 * recorded as TIMEOUT, so one hung test cannot hang the suite. It is a guard,
 * far above what a file takes (well under a second).
 */
const FILE_GUARD_MS = 30_000;

const GLOBAL_ORIGIN = Symbol.for("undici.globalOrigin.1");

const harnessSource = readFileSync(join(WPT_ROOT, "resources/testharness.js"), "utf8");

/** The scripts a file's `// META: script=` lines name, resolved as the WPT server would. */
function metaScripts(file: string, source: string): string[] {
  const scripts: string[] = [];
  for (const match of source.matchAll(/^\/\/ META: script=(.+)$/gm)) {
    const src = match[1]!.trim();
    scripts.push(src.startsWith("/") ? join(WPT_ROOT, src) : join(dirname(file), src));
  }
  return scripts;
}

function setGlobal(name: string | symbol, value: unknown): void {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

/** Runs one test file (a path under test/wpt/wpt/) with `variant`'s classes; resolves to each test's outcome. */
export function runFile(relative: string, variant: Variant): Promise<Map<string, Outcome>> {
  const file = join(WPT_ROOT, relative);
  const source = readFileSync(file, "utf8");
  const saved = { Request: globalThis.Request, Response: globalThis.Response, fetch: globalThis.fetch };
  setGlobal("Request", variant.Request);
  setGlobal("Response", variant.Response);
  setGlobal("fetch", variant.fetch);
  // What testharness.js and the tests look for. Not a worker and not a window:
  // isWorker() answers true only so that tests needing the WPT server
  // (`if (!self.GLOBAL.isWorker())` guards fetch() calls to it) are skipped.
  setGlobal("self", globalThis);
  // Relative URLs resolve against the file's URL on the WPT server, as in a
  // browser: `location` for the tests, and undici's global origin (the
  // registered symbol its `setGlobalOrigin()` sets) for Node's classes.
  // There is no WPT server here: port 1 is one the Fetch standard blocks, so a
  // test's fetch() of a server resource fails at once, without DNS or network.
  const location = new URL(relative, "http://web-platform.test:1/");
  setGlobal("location", location);
  setGlobal(GLOBAL_ORIGIN, location);
  setGlobal("GLOBAL", { isWindow: () => false, isWorker: () => true, isShadowRealm: () => false });
  const results = new Map<string, Outcome>();
  const errors: unknown[] = [];
  const onError = (err: unknown): void => {
    errors.push(err);
  };
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return new Promise<Map<string, Outcome>>((resolve) => {
    let guard: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(guard);
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
      setGlobal("Request", saved.Request);
      setGlobal("Response", saved.Response);
      setGlobal("fetch", saved.fetch);
      if (errors.length > 0 && results.size === 0)
        results.set("(file)", { status: "FAIL", message: String(errors[0]) });
      resolve(results);
    };
    runInThisContext(harnessSource, { filename: join(WPT_ROOT, "resources/testharness.js") });
    const harness = globalThis as unknown as Harness;
    harness.add_result_callback((test) => {
      results.set(test.name, { status: STATUS[test.status] ?? "FAIL", message: test.message });
    });
    harness.add_completion_callback((tests) => {
      for (const test of tests)
        if (!results.has(test.name))
          results.set(test.name, { status: STATUS[test.status] ?? "FAIL", message: test.message });
      finish();
    });
    guard = setTimeout(finish, FILE_GUARD_MS);
    guard.unref();
    // The META scripts and the file, in one function scope: both variants run
    // in this realm, and the files' top-level `const`s must not collide.
    const scripts = metaScripts(file, source).map((script) => readFileSync(script, "utf8"));
    try {
      runInThisContext(`(function () {\n${[...scripts, source].join("\n;\n")}\n})();`, { filename: file });
    } catch (err) {
      errors.push(err);
      results.set("(file)", { status: "FAIL", message: String(err) });
      finish();
    }
  });
}
