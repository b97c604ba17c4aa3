/**
 * Runs the vendored Express and ws test suites (test/compat/) on node:http
 * (the baseline) and on tsgi's node:http-style gateway (through
 * test/compat/preload.mjs), then compares them test by test: every test that
 * passes on node:http must pass on tsgi, or be listed with its reason in
 * test/compat/differences.json. A listed test that passes on tsgi, or that
 * does not pass on node:http, is stale and fails the run too.
 *
 * Run: npm run test:compat
 *   COMPAT_TARGET=node|tsgi|both  (default both; tsgi alone still runs the
 *                                  baseline, since it compares against it)
 *   COMPAT_SUITE=express|ws       (default: both suites)
 *   TSGI_NODE_GATEWAY=path        (default dist/gateways/node/index.js; build first)
 *   COMPAT_VERBOSE=1              (print each suite's own output)
 */

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

type State = "passed" | "failed" | "skipped";
interface Result {
  title: string;
  state: State;
  hook?: boolean;
  error?: string;
}
interface Difference {
  suite: string;
  test: string;
  reason: string;
}
/** A test that fails on node:http itself on some Node majors (an upstream test out of step with Node). */
interface NodeFailure {
  suite: string;
  test: string;
  nodeMajors: number[];
  reason: string;
}
interface Suite {
  name: string;
  dir: string;
  /** Flags for node itself (given to mocha, they would make it re-spawn node without our preload). */
  nodeArgs: string[];
  args: string[];
}
interface Run {
  suite: string;
  target: Target;
  ok: boolean;
  problem?: string;
  /** Reported its results, then stayed alive (something left open); killed. */
  lingered?: boolean;
  results: Map<string, Result>;
  hookFailures: Result[];
  counts: { passed: number; failed: number; skipped: number };
  seconds: number;
  servers?: { tsgi: number; tsgiSecure: number; nodeHttps: number };
}
type Target = "node" | "tsgi";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = resolve(here, "../..");
const mocha = join(root, "node_modules/mocha/bin/mocha.js");
const reporter = join(here, "reporter.cjs");
const preload = join(here, "preload.mjs");
const gateway = resolve(root, process.env.TSGI_NODE_GATEWAY ?? "dist/gateways/node/index.js");

// Each suite's own test command (its package.json "test" script), less
// coverage (nyc) and the reporter. Mocha runs the tests in this process (no
// node flags reach it, so it does not re-spawn), where the preload is.
const SUITES: Suite[] = [
  {
    name: "express",
    dir: join(here, "express"),
    nodeArgs: [],
    args: ["--require", "test/support/env", "--check-leaks", "test/", "test/acceptance/"],
  },
  { name: "ws", dir: join(here, "ws"), nodeArgs: ["--throw-deprecation"], args: ["test/*.test.js"] },
];

// A suite that has reported its results but whose process is still alive
// this long after has left something open (a server, a socket, a timer).
const EXIT_GRACE_MS = 15_000;
const SUITE_TIMEOUT_MS = 300_000;

function runSuite(suite: Suite, target: Target, work: string): Promise<Run> {
  const results = join(work, `${suite.name}-${target}.json`);
  const report = join(work, `${suite.name}-${target}.preload.json`);
  const nodeArgs = target === "tsgi" ? ["--import", preload, ...suite.nodeArgs] : suite.nodeArgs;
  const args = [...nodeArgs, mocha, "--reporter", reporter, ...suite.args];
  const started = Date.now();
  const env = {
    ...process.env,
    COMPAT_RESULTS: results,
    COMPAT_PRELOAD_REPORT: report,
    TSGI_NODE_GATEWAY: gateway,
  };
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, args, {
      cwd: suite.dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (process.env.COMPAT_VERBOSE) process.stdout.write(chunk);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    let problem: string | undefined;
    let lingered = false;
    const kill = (why: string | undefined) => {
      problem = why;
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {
        // already gone
      }
    };
    const watch = setInterval(() => {
      if (Date.now() - started > SUITE_TIMEOUT_MS) kill(`did not finish in ${SUITE_TIMEOUT_MS / 1000} s`);
    }, 500);
    let graceTimer: NodeJS.Timeout | undefined;
    const poll = setInterval(() => {
      if (graceTimer === undefined && existsSync(results)) {
        graceTimer = setTimeout(() => {
          lingered = true;
          kill(undefined);
        }, EXIT_GRACE_MS);
      }
    }, 200);
    child.on("close", (code, signal) => {
      clearInterval(watch);
      clearInterval(poll);
      if (graceTimer) clearTimeout(graceTimer);
      const run: Run = {
        suite: suite.name,
        target,
        ok: true,
        results: new Map(),
        hookFailures: [],
        counts: { passed: 0, failed: 0, skipped: 0 },
        seconds: (Date.now() - started) / 1000,
        lingered,
      };
      if (!existsSync(results)) {
        run.ok = false;
        run.problem =
          problem ??
          `exited (${signal ?? code}) without results:\n${output.trim().split("\n").slice(-30).join("\n")}`;
        resolveRun(run);
        return;
      }
      if (problem) {
        run.ok = false;
        run.problem = problem;
      }
      const parsed = JSON.parse(readFileSync(results, "utf8")) as { results: Result[] };
      for (const r of parsed.results) {
        if (r.hook) {
          run.hookFailures.push(r);
          run.counts.failed++;
          continue;
        }
        run.results.set(r.title, r);
        run.counts[r.state]++;
      }
      if (existsSync(report)) run.servers = JSON.parse(readFileSync(report, "utf8"));
      resolveRun(run);
    });
  });
}

function pick<T extends string>(name: string, value: string | undefined, allowed: readonly T[], dflt: T): T {
  const v = (value ?? dflt) as T;
  if (!allowed.includes(v)) {
    console.error(`${name} must be one of ${allowed.join(", ")} (got ${value})`);
    process.exit(2);
  }
  return v;
}

function loadNodeFailures(): NodeFailure[] {
  const list = JSON.parse(readFileSync(join(here, "node-failures.json"), "utf8")) as NodeFailure[];
  for (const f of list) {
    if (!f.suite || !f.test || !Array.isArray(f.nodeMajors) || !f.reason?.trim()) {
      throw new Error(
        `node-failures.json: every entry needs suite, test, nodeMajors and reason: ${JSON.stringify(f)}`,
      );
    }
  }
  return list;
}

function loadDifferences(): Difference[] {
  const file = join(here, "differences.json");
  const list = JSON.parse(readFileSync(file, "utf8")) as Difference[];
  for (const d of list) {
    if (!d.suite || !d.test || !d.reason?.trim()) {
      throw new Error(`differences.json: every entry needs suite, test and reason: ${JSON.stringify(d)}`);
    }
  }
  return list;
}

function line(run: Run): string {
  const { passed, failed, skipped } = run.counts;
  const servers = run.servers
    ? `  [servers: ${run.servers.tsgi} tsgi http, ${run.servers.tsgiSecure} tsgi https, ${run.servers.nodeHttps} node:https]`
    : "";
  return `${run.suite.padEnd(8)} on ${run.target.padEnd(5)} ${String(passed).padStart(5)} passed, ${String(failed).padStart(3)} failed, ${String(skipped).padStart(2)} skipped  (${run.seconds.toFixed(1)} s)${servers}`;
}

async function main(): Promise<number> {
  const target = pick("COMPAT_TARGET", process.env.COMPAT_TARGET, ["node", "tsgi", "both"] as const, "both");
  const only = process.env.COMPAT_SUITE;
  const suites = only ? SUITES.filter((s) => s.name === only) : SUITES;
  if (suites.length === 0) {
    console.error(`COMPAT_SUITE must be one of ${SUITES.map((s) => s.name).join(", ")} (got ${only})`);
    return 2;
  }
  const differences = loadDifferences();
  const nodeMajor = Number(process.versions.node.split(".")[0]);
  const nodeFailures = loadNodeFailures().filter((f) => f.nodeMajors.includes(nodeMajor));
  const work = mkdtempSync(join(tmpdir(), "tsgi-compat-"));
  const problems: string[] = [];
  const runs: Run[] = [];
  let accounted = 0; // failing tests that a list explains
  try {
    const gatewayBuilt = existsSync(gateway);
    for (const suite of suites) {
      const base = await runSuite(suite, "node", work);
      runs.push(base);
      console.log(line(base));
      if (!base.ok) problems.push(`${suite.name} on node: ${base.problem}`);
      lingering(base, problems);
      const known = new Set(nodeFailures.filter((f) => f.suite === suite.name).map((f) => f.test));
      for (const r of [...base.results.values(), ...base.hookFailures]) {
        if (r.state !== "failed") continue;
        if (known.has(r.title)) {
          console.log(
            `${suite.name.padEnd(8)}          known node:http failure on Node ${nodeMajor}: ${r.title}`,
          );
          accounted++;
          continue;
        }
        problems.push(`${suite.name} on node: failed: ${r.title}\n    ${firstLine(r.error)}`);
      }
      for (const title of known) {
        if (base.results.get(title)?.state !== "failed") {
          problems.push(
            `${suite.name}: stale node-failures.json entry (does not fail on Node ${nodeMajor}): ${title}`,
          );
        }
      }
      if (target === "node") continue;
      if (!gatewayBuilt) {
        const msg = `tsgi node gateway not built yet: ${gateway} is missing (npm run build; or COMPAT_TARGET=node)`;
        console.log(`${suite.name.padEnd(8)} on tsgi  -- ${msg}`);
        problems.push(`${suite.name} on tsgi: ${msg}`);
        continue;
      }
      const tsgi = await runSuite(suite, "tsgi", work);
      runs.push(tsgi);
      console.log(line(tsgi));
      if (!tsgi.ok) problems.push(`${suite.name} on tsgi: ${tsgi.problem}`);
      lingering(tsgi, problems);
      if (tsgi.servers && tsgi.servers.tsgi === 0) {
        problems.push(`${suite.name} on tsgi: no server was made by tsgi: the preload did not take`);
      }
      accounted += compare(suite.name, base, tsgi, differences, problems);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const r of runs) {
    total.passed += r.counts.passed;
    total.failed += r.counts.failed;
    total.skipped += r.counts.skipped;
  }
  if (problems.length > 0) {
    console.log(`\n${problems.length} problem(s):`);
    for (const p of problems) console.log(`  - ${p}`);
  }
  console.log(
    `\ncompat ${problems.length === 0 ? "ok" : "FAILED"} (targets: ${target}, suites: ${suites.map((s) => s.name).join(", ")})`,
  );
  // The closing line agrees with the exit code: "failed" counts the problems
  // above; test failures that are accounted for (known node:http failures,
  // listed differences) are counted as skipped.
  console.log(
    `tests over all runs: ${total.passed} passing, ${total.failed} failing (${accounted} accounted for), ${total.skipped} skipped by the suites`,
  );
  console.log(
    `compat: ${total.passed} passed, ${problems.length} failed, ${total.skipped + accounted} skipped`,
  );
  return problems.length === 0 ? 0 : 1;
}

/**
 * A suite that reported and then did not exit left something open. After a
 * failed test that is the suite's own doing (a test that fails before its
 * server.close() leaves the server listening), so it only counts when
 * every test passed.
 */
function lingering(run: Run, problems: string[]): void {
  if (!run.lingered) return;
  const what = `reported its results but did not exit within ${EXIT_GRACE_MS / 1000} s (open handles)`;
  if (run.counts.failed === 0) problems.push(`${run.suite} on ${run.target}: ${what}`);
  else console.log(`${run.suite.padEnd(8)}          ${what}, after a failed test`);
}

function firstLine(s: string | undefined): string {
  return (s ?? "").split("\n")[0] ?? "";
}

/** Adds the unexplained differences to problems; returns how many tsgi failures the list explains. */
function compare(suite: string, base: Run, tsgi: Run, differences: Difference[], problems: string[]): number {
  const listed = new Map(differences.filter((d) => d.suite === suite).map((d) => [d.test, d]));
  let explained = 0;
  let failedExplained = 0;
  for (const [title, r] of base.results) {
    if (r.state !== "passed") continue;
    const t = tsgi.results.get(title);
    if (t?.state === "passed") continue;
    if (listed.has(title)) {
      explained++;
      if (t?.state === "failed") failedExplained++;
      continue;
    }
    const why =
      t === undefined
        ? "did not run (a hook failed or the run stopped)"
        : `${t.state}: ${firstLine(t.error)}`;
    problems.push(`${suite}: passes on node:http, not on tsgi: ${title}\n    ${why}`);
  }
  // A test that does not pass on node:http is not held against tsgi.
  for (const [title, t] of tsgi.results) {
    if (t.state === "failed" && base.results.get(title)?.state !== "passed") failedExplained++;
  }
  for (const h of tsgi.hookFailures)
    problems.push(`${suite} on tsgi: hook failed: ${h.title}\n    ${firstLine(h.error)}`);
  for (const [title] of listed) {
    const b = base.results.get(title);
    const t = tsgi.results.get(title);
    if (b === undefined) problems.push(`${suite}: stale difference (no such test on node:http): ${title}`);
    else if (b.state !== "passed")
      problems.push(`${suite}: stale difference (does not pass on node:http): ${title}`);
    else if (t?.state === "passed")
      problems.push(`${suite}: stale difference (now passes on tsgi): ${title}`);
  }
  if (explained > 0)
    console.log(`${suite.padEnd(8)}          ${explained} listed difference(s) in differences.json`);
  return failedExplained;
}

process.exitCode = await main();
