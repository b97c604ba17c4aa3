/**
 * Differential fuzzing against Node's llhttp in strict mode: generated,
 * mutated and token-soup request streams go to both parsers, and every
 * disagreement on where a message ends, its method, target, headers or body
 * must fall in a class documented with its RFC reason in
 * docs/http-conformance.md ("Differences with llhttp"; the classes are in
 * differential.ts). An unexplained one fails with the input. The counts per
 * class are printed.
 */

import assert from "node:assert/strict";
import { METHODS } from "node:http";
import { test } from "node:test";
import fc from "fast-check";
import { agree, classify, ours, sides } from "./differential.ts";
import { parseWithNode } from "./llhttp.ts";
import { genPipeline, mutate, mutations, render, soup } from "./requests.ts";
import { budget, checkAsyncProperty } from "./support.ts";

const MS = budget(1500);

/** Mostly methods llhttp knows, so disagreements on methods do not hide everything else. */
const pipeline = genPipeline.map((p) => ({
  ...p,
  requests: p.requests.map((r) =>
    METHODS.includes(r.method) || r.method.length % 4 === 0 ? r : { ...r, method: "GET" },
  ),
}));

const counts = new Map<string, number>();
const count = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);

async function differ(bytes: Buffer): Promise<void> {
  const s = sides(ours(bytes), await parseWithNode(bytes));
  if (agree(s.ours, s.node)) {
    count(s.ours.refused === null ? "agree: both accept" : "agree: both refuse");
    return;
  }
  const input = bytes.toString("latin1");
  const cls = classify(input, s.ours, s.node);
  assert.ok(
    cls !== null,
    `unexplained disagreement with llhttp on ${JSON.stringify(input)}:\n tsgi ${JSON.stringify(s.ours)}\n llhttp ${JSON.stringify(s.node)}`,
  );
  count(cls);
}

test("llhttp (strict) and tsgi agree, or differ only in documented ways", async (t) => {
  const inputs = fc.oneof(
    { arbitrary: pipeline.map((p) => render(p).bytes), weight: 2 },
    { arbitrary: fc.tuple(pipeline, mutations).map(([p, m]) => mutate(render(p).bytes, m)), weight: 3 },
    { arbitrary: soup, weight: 1 },
  );
  const runs = await checkAsyncProperty("differential", fc.asyncProperty(inputs, differ), MS);
  t.diagnostic(`${runs} inputs`);
  for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1])) t.diagnostic(`${n} ${name}`);
});
