/**
 * What `--trace` costs when it is off: the request path with its trace hooks
 * against the same code with the hooks taken out. The hooks are one
 * `if (x.tracer !== null) ...` statement each; this script copies the tree
 * to a temporary directory, deletes those statements from the files on the
 * request path, and runs bench/micro/request-path.ts from both trees in
 * alternation, pinned to one CPU. It prints the best and the median time per
 * request of each, and their ratio.
 *
 *   npm run bench:trace            (ROUNDS=8 REQUESTS=300000 by default)
 */

import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median } from "./stats.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const REQUESTS = Number(process.env.REQUESTS ?? 300_000);
/** The files with hooks on the path of an HTTP request. */
const HOOKED = [
  "src/server/connection.ts",
  "src/gateways/fetch/gateway.ts",
  "src/gateways/wsgi/gateway.ts",
  "src/gateways/asgi/http.ts",
];

const BLOCK = /^(\s*)if \((this|ex|this\.ex)\.tracer !== null[^)]*\) \{\s*$/;
const SINGLE = /^\s*if \((this|ex|this\.ex)\.tracer !== null[^{]*;\s*$/;
const SPLIT = /^\s*if \((this|ex|this\.ex)\.tracer !== null.*[^;{]\s*$/;

/** Deletes the trace statements of one file; returns how many. */
function strip(path: string): number {
  const lines = readFileSync(path, "utf8").split("\n");
  const out: string[] = [];
  let removed = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const block = BLOCK.exec(line);
    if (block !== null) {
      // Skip to the brace that closes this block, at the same indentation.
      const close = `${block[1]}}`;
      while (!(lines[i]!.startsWith(close) && lines[i]!.trimEnd() === close)) i++;
      removed++;
      continue;
    }
    if (SINGLE.test(line)) {
      removed++;
      continue;
    }
    if (SPLIT.test(line)) {
      while (!lines[i]!.trimEnd().endsWith(";")) i++;
      removed++;
      continue;
    }
    out.push(line);
  }
  writeFileSync(path, out.join("\n"));
  return removed;
}

function run(tree: string, kind: string): number {
  const out = execFileSync(
    "taskset",
    ["-c", "1", process.execPath, "--import", "tsx", "bench/micro/request-path.ts", kind, String(REQUESTS)],
    { cwd: tree, encoding: "utf8" },
  );
  const last = out.trim().split("\n").at(-1)!;
  return Number(/: (\d+) ns/.exec(last)![1]);
}

const copy = mkdtempSync(join(tmpdir(), "tsgi-notrace-"));
try {
  for (const dir of ["src", "bench", "examples"])
    cpSync(join(ROOT, dir), join(copy, dir), { recursive: true });
  for (const file of ["package.json", "tsconfig.json"]) cpSync(join(ROOT, file), join(copy, file));
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  const removed = HOOKED.map((f) => strip(join(copy, f))).reduce((a, b) => a + b, 0);
  console.log(`trace statements removed from the copy: ${removed}`);

  const times: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ["fetch", "wsgi"]) {
      for (const [name, tree] of [
        ["with hooks", ROOT],
        ["without", copy],
      ] as const) {
        const key = `${kind} ${name}`;
        times[key] = [...(times[key] ?? []), run(tree, kind)];
      }
    }
  }
  console.log("\n| gateway | with hooks (best / median ns) | without (best / median ns) | cost (median) |");
  console.log("| --- | --- | --- | --- |");
  for (const kind of ["fetch", "wsgi"]) {
    const a = times[`${kind} with hooks`]!;
    const b = times[`${kind} without`]!;
    const cost = (median(a) / median(b) - 1) * 100;
    console.log(
      `| ${kind} | ${Math.min(...a)} / ${median(a)} | ${Math.min(...b)} / ${median(b)} | ${cost >= 0 ? "+" : ""}${cost.toFixed(1)}% |`,
    );
  }
} finally {
  rmSync(copy, { recursive: true, force: true });
}
