"use strict";
// A mocha reporter for test/compat/run.ts: records every test's full title
// and outcome in the order they ran, and writes them as JSON to the file
// named by COMPAT_RESULTS when the run ends. Titles that occur more than
// once in a suite (both Express and ws have a few) get " [2]", " [3]", ...
// by order of appearance, so every key is unique and stable.
const fs = require("node:fs");

function CompatReporter(runner) {
  const out = process.env.COMPAT_RESULTS;
  if (!out) throw new Error("COMPAT_RESULTS is not set");
  const results = [];
  const byTest = new WeakMap();
  const seen = new Map();
  const key = (title) => {
    const n = (seen.get(title) ?? 0) + 1;
    seen.set(title, n);
    return n === 1 ? title : `${title} [${n}]`;
  };
  const message = (err) => String((err && (err.stack || err.message)) || err).slice(0, 2000);
  const record = (test, state, err) => {
    const known = byTest.get(test);
    if (known) {
      // mocha can report a test that passed as failed later (an error after
      // it ended, done() called twice): the worse outcome stands.
      if (state === "failed") {
        known.state = "failed";
        known.error = message(err);
      }
      return;
    }
    const entry = { title: key(test.fullTitle()), state };
    if (test.type === "hook") entry.hook = true;
    if (test.file) entry.file = test.file;
    if (err !== undefined) entry.error = message(err);
    byTest.set(test, entry);
    results.push(entry);
  };
  runner.on("pass", (test) => record(test, "passed"));
  runner.on("pending", (test) => record(test, "skipped"));
  runner.on("fail", (test, err) => record(test, "failed", err));
  runner.once("end", () => {
    fs.writeFileSync(out, `${JSON.stringify({ results }, null, 1)}\n`);
  });
}

module.exports = CompatReporter;
