/**
 * docs/errors.md against the source, both ways: the `TSGI_ERR_*` codes, the
 * classes deriving from TsgiError (with their base and file), and no
 * uncoded `new Error(...)` left in src/.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const doc = readFileSync(join(root, "docs/errors.md"), "utf8");

/** Every .ts file under src/, as [path relative to the repository, text]. */
const sources: [string, string][] = readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".ts"))
  .map((f) => {
    const path = `src/${f.split("\\").join("/")}`;
    return [path, readFileSync(join(root, path), "utf8")];
  });

/** Every class declared in src/: name -> its base and file. */
const classes = new Map<string, { base: string; file: string }>();
for (const [file, text] of sources) {
  for (const m of text.matchAll(/^\s*(?:export\s+)?(?:abstract\s+)?class\s+(\w+)\s+extends\s+(\w+)/gm)) {
    assert.ok(!classes.has(m[1]!), `class ${m[1]} is declared twice`);
    classes.set(m[1]!, { base: m[2]!, file });
  }
}

/** The classes deriving from TsgiError, directly or not. */
function errorClasses(): Set<string> {
  const found = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const [name, { base }] of classes) {
      if (!found.has(name) && (base === "TsgiError" || found.has(base))) {
        found.add(name);
        grew = true;
      }
    }
  }
  return found;
}

/** The rows of the "Every error class" table: class, base, file. */
function documentedClasses(): Map<string, { base: string; file: string }> {
  const start = doc.indexOf("## Every error class");
  assert.notEqual(start, -1, 'docs/errors.md has no "## Every error class" section');
  const end = doc.indexOf("\n## ", start + 1);
  const rows = new Map<string, { base: string; file: string }>();
  for (const line of doc.slice(start, end === -1 ? undefined : end).split("\n")) {
    const m = /^\| `(\w+)` \| `(\w+)` \| .* \| `([^`]+)` \|$/.exec(line);
    if (m !== null) rows.set(m[1]!, { base: m[2]!, file: m[3]! });
  }
  return rows;
}

function sorted(set: Iterable<string>): string[] {
  return [...set].sort();
}

test("every TSGI_ERR_* code in src/ is in docs/errors.md, and every code there is in src/", () => {
  const inSource = new Set<string>();
  for (const [, text] of sources)
    for (const m of text.matchAll(/["'`](TSGI_ERR_[A-Z0-9_]+)["'`]/g)) inSource.add(m[1]!);
  const inDoc = new Set(doc.match(/TSGI_ERR_[A-Z0-9_]+/g) ?? []);
  assert.ok(inSource.size > 50, `only ${inSource.size} codes found in src/`);
  assert.deepEqual(
    sorted([...inSource].filter((c) => !inDoc.has(c))),
    [],
    "codes in src/ missing from the doc",
  );
  assert.deepEqual(sorted([...inDoc].filter((c) => !inSource.has(c))), [], "codes in the doc not in src/");
});

test("every class deriving from TsgiError is in the doc's table, with its base and file, and only those", () => {
  const inSource = errorClasses();
  inSource.add("TsgiError");
  const table = documentedClasses();
  assert.deepEqual(
    sorted([...inSource].filter((c) => !table.has(c))),
    [],
    "error classes missing from the table",
  );
  assert.deepEqual(
    sorted([...table.keys()].filter((c) => !inSource.has(c))),
    [],
    "classes in the table that do not derive from TsgiError",
  );
  for (const [name, row] of table) {
    const declared = classes.get(name);
    if (name === "TsgiError") {
      assert.ok(
        /export abstract class TsgiError extends Error\b/.test(readFileSync(join(root, row.file), "utf8")),
      );
      continue;
    }
    assert.deepEqual(row, declared, `${name}: the table says ${row.base} in ${row.file}`);
  }
});

test("every error class in src/ derives from TsgiError (none extends Error directly)", () => {
  const direct = [...classes]
    .filter(([name, { base }]) => /^(Error|TypeError|RangeError)$/.test(base) && name !== "TsgiError")
    .map(([name, { file }]) => `${name} (${file})`);
  assert.deepEqual(direct, []);
});

test("no new Error(...) in src/ but the documented two (a thread's error rebuilt; node's own 'aborted')", () => {
  const found: string[] = [];
  for (const [file, text] of sources) {
    for (const [i, line] of text.split("\n").entries()) {
      if (/\bnew Error\(/.test(line)) found.push(`${file}:${i + 1}`);
    }
  }
  found.sort();
  assert.equal(found.length, 2, found.join("\n"));
  assert.match(found[0]!, /^src\/gateways\/node\/request\.ts:/);
  assert.match(found[1]!, /^src\/threads\/protocol\.ts:/);
  assert.match(doc, /`rebuildError\(\)`/);
  assert.match(doc, /`abortedError\(\)`/);
});
