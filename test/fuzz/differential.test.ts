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

test("fixed inputs: agreed, or in the documented class", async () => {
  const cases: [string, string | null][] = [
    // Both refuse: llhttp knows no such URL, we take absolute-form for http(s) only.
    ["GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", null],
    ["GET a::b HTTP/1.1\r\nHost: a\r\n\r\n", null],
    ["GET http:x HTTP/1.1\r\nHost: a\r\n\r\n", null],
    // llhttp takes any scheme followed by "//"; RFC 9112 §3.2.2 gives an origin server http(s) only.
    ["GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "target-form"],
    // Both refuse: 0xA0 is no OWS, "\xa0chunked" is no coding llhttp or we know.
    ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \xa0chunked\xa0\r\n\r\n0\r\n\r\n", null],
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \xa05\r\n\r\nhello", null],
    ["CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", "connect-501"],
    // Seen in random runs. "*" is for OPTIONS only (RFC 9112 §3.2.4); llhttp waits for the head.
    ["GET * HTTP/1.1\r\n", "target-form"],
    ["OPTIONS *f HTTP/1.0\r\n\r\n", "target-form"],
    // The tab is OWS, not part of the coding (RFC 9112 §5); llhttp refuses it.
    ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n", "transfer-encoding-ows"],
    // An empty list element is ignored (RFC 9110 §5.6.1.2); chunked is still final.
    ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", "te-empty-element"],
    // The body is "\r"; the next request starts with a bare LF (RFC 9112 §2.2).
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n\r\nA", "bare-lf"],
    // No version (RFC 9112 §3); llhttp would read HTTP/0.9 and waits for its fields.
    ["GET  /\r\n", "http-0.9"],
  ];
  for (const [input, expected] of cases) {
    const bytes = Buffer.from(input, "latin1");
    const s = sides(ours(bytes), await parseWithNode(bytes));
    const verdict = agree(s.ours, s.node) ? null : classify(input, s.ours, s.node);
    assert.equal(verdict, expected, JSON.stringify(input));
    if (expected === null)
      assert.ok(s.ours.refused !== null && s.node.refused !== null, JSON.stringify(input));
  }
});

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
