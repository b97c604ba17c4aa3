/**
 * The docs check: every relative link and every code reference in README.md
 * and docs/**\/*.md must resolve, so the docs cannot drift from the code
 * unnoticed. What counts as a reference (outside fenced code blocks):
 *
 * - A relative link `[text](path)` or `[text](path#anchor)`: the path, taken
 *   from the markdown file's folder, must exist; an `#anchor` into a markdown
 *   file (or `#anchor` alone, into the same file) must name one of its
 *   headings, slugged as GitHub does, or an `<a name>`/`id` in it.
 * - A code reference: a link whose whole text is one code span.
 *   - [`Name`](../src/file.ts) or [`Name.member`](../src/file.ts): the file
 *     must declare `Name` (a function, class, interface, type, enum, const,
 *     let or var, at any depth, or a member of one), and `Name.member` must be a
 *     member of the class, interface, enum or object literal `Name`. A trailing
 *     `()` is allowed: [`checkHandshake()`](../src/websocket/handshake.ts).
 *   - [`file.ts`](../src/x/file.ts) or [`src/x/`](../src/x/): the text names
 *     the target, so the resolved target must end with it.
 * - A bare code span holding a repository path, such as
 *   `src/server/connection.ts` or `test/docs/`: the path, from the repository
 *   root, must exist. Only spans whose first segment is a folder at the root
 *   count, so `tsgi/asgi` (a package export) and `app.ts` (a bare name) do not.
 *
 * The test lists every broken reference at once, with file and line.
 */

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Files whose declarations can be checked. */
const CODE_FILE = /\.(ts|tsx|js|mjs|cjs)$/;
/** A code span that names a file or folder rather than a symbol. */
const PATH_LIKE = /\/|\.(ts|tsx|js|mjs|cjs|json|md|html|lua|sh|txt)$/;
/** `Name`, `Name.member`, `#private`, optionally followed by `()`. */
const SYMBOL = /^[A-Za-z_$#][\w$]*(\.[A-Za-z_$#][\w$]*)*(\(\))?$/;

// ---- markdown -----------------------------------------------------------------------------------

/**
 * A heading's anchor as GitHub makes it: inline markup dropped (code spans
 * and links keep their text), lower case, every character that is not a
 * letter, digit, space, `-` or `_` removed, spaces turned into `-`.
 */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/[`*~]/g, "")
    .replace(/(^|\s)_+|_+(\s|$)/g, "$1$2");
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The text outside fenced code blocks, fences blanked so offsets (and line numbers) stay true. */
function withoutFences(markdown: string): string {
  const lines = markdown.split("\n");
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(lines[i]!);
    if (fence === null) {
      if (m !== null) {
        fence = m[1]!;
        lines[i] = "";
      }
    } else {
      if (m !== null && m[1]!.startsWith(fence[0]!) && m[1]!.length >= fence.length) fence = null;
      lines[i] = "";
    }
  }
  return lines.join("\n");
}

/** Every anchor a markdown file offers: heading slugs (duplicates numbered) and explicit names. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(markdown).split("\n")) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h !== null) {
      const slug = githubSlug(h[1]!);
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      anchors.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const a of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(a[1]!);
  }
  return anchors;
}

/** A reference found in a markdown file. */
export interface Reference {
  line: number;
  /** "link": [text](target); "span": a bare code span. */
  kind: "link" | "span";
  /** The link target, or the code span's text. */
  target: string;
  /** For a link whose whole text is one code span: the span's text. */
  code: string | null;
}

/** The links and bare code spans of a markdown document, outside fenced blocks. */
export function referencesIn(markdown: string): Reference[] {
  const text = withoutFences(markdown);
  const lineAt = (offset: number) => text.slice(0, offset).split("\n").length;
  // Code spans first (they may run over a line break, not over a blank line), so
  // brackets inside them are not taken for links; each becomes a placeholder.
  const spans: string[] = [];
  const masked = text.replace(
    /(`+)((?:(?!\n\s*\n)[\s\S])+?)\1(?!`)/g,
    (_all, ticks: string, body: string) => {
      spans.push(body.trim());
      // Keep the length (and the line breaks) so offsets map back.
      const filler = `${ticks}${body}${ticks}`.replace(/[^\n]/g, "\u0001");
      return `\u0002${spans.length - 1}\u0003${filler.slice(String(spans.length - 1).length + 2)}`;
    },
  );
  const refs: Reference[] = [];
  const used = new Set<number>();
  const link = /!?\[((?:[^[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
  for (const m of masked.matchAll(link)) {
    const label = m[1]!.replace(/\u0001/g, "");
    const only = /^\s*\u0002(\d+)\u0003\s*$/.exec(label);
    for (const s of label.matchAll(/\u0002(\d+)\u0003/g)) used.add(Number(s[1]));
    refs.push({
      line: lineAt(m.index),
      kind: "link",
      target: m[2]!,
      code: only === null ? null : spans[Number(only[1])]!,
    });
  }
  for (const m of masked.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) {
    refs.push({ line: lineAt(m.index), kind: "link", target: m[1]!, code: null });
  }
  for (const m of masked.matchAll(/\u0002(\d+)\u0003/g)) {
    const i = Number(m[1]);
    if (!used.has(i)) refs.push({ line: lineAt(m.index), kind: "span", target: spans[i]!, code: null });
  }
  return refs.sort((a, b) => a.line - b.line);
}

// ---- declarations -------------------------------------------------------------------------------

function nameOf(node: ts.Node): string | null {
  const name = (node as { name?: ts.Node }).name;
  if (name === undefined) return null;
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  return null;
}

/**
 * The names a file declares, anywhere in it: `Name` for functions, classes,
 * interfaces, types, enums and variables, and `Name.member` for the members
 * of classes, interfaces, enums and object literals assigned to a variable
 * (members are also listed by their bare name).
 */
export function declarationsOf(source: string, fileName = "file.ts"): Set<string> {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false);
  const names = new Set<string>();
  const members = (owner: string, list: readonly ts.Node[]) => {
    for (const member of list) {
      const name = ts.isConstructorDeclaration(member) ? "constructor" : nameOf(member);
      if (name === null) continue;
      names.add(name);
      names.add(`${owner}.${name}`);
    }
  };
  const visit = (node: ts.Node) => {
    if (
      ts.isFunctionDeclaration(node) ||
      ts.isClassDeclaration(node) ||
      ts.isInterfaceDeclaration(node) ||
      ts.isTypeAliasDeclaration(node) ||
      ts.isEnumDeclaration(node) ||
      ts.isModuleDeclaration(node) ||
      ts.isVariableDeclaration(node)
    ) {
      const name = nameOf(node);
      if (name !== null) {
        names.add(name);
        if (ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isEnumDeclaration(node)) {
          members(name, node.members);
        } else if (ts.isVariableDeclaration(node) && node.initializer !== undefined) {
          let init: ts.Expression = node.initializer;
          while (
            ts.isAsExpression(init) ||
            ts.isSatisfiesExpression(init) ||
            ts.isParenthesizedExpression(init)
          )
            init = init.expression;
          if (ts.isObjectLiteralExpression(init)) members(name, init.properties);
          if (ts.isClassExpression(init)) members(name, init.members);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return names;
}

// ---- the check ----------------------------------------------------------------------------------

const declarationCache = new Map<string, Set<string>>();
const anchorCache = new Map<string, Set<string>>();

function declarationsIn(path: string): Set<string> {
  let names = declarationCache.get(path);
  if (names === undefined) {
    names = declarationsOf(readFileSync(path, "utf8"), path);
    declarationCache.set(path, names);
  }
  return names;
}

function anchorsIn(path: string): Set<string> {
  let anchors = anchorCache.get(path);
  if (anchors === undefined) {
    anchors = anchorsOf(readFileSync(path, "utf8"));
    anchorCache.set(path, anchors);
  }
  return anchors;
}

/** Folders at the repository root: a code span starting with one of them is a path. */
function rootFolders(root: string): Set<string> {
  const skip = new Set(["node_modules", "dist", "scratch"]);
  return new Set(
    readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith(".") && !skip.has(e.name))
      .map((e) => e.name),
  );
}

/** Why `ref` in the markdown file `mdPath` does not resolve, or null if it does. */
export function checkReference(
  ref: Reference,
  mdPath: string,
  ownAnchors: Set<string> = anchorsIn(mdPath),
  root = ROOT,
): string | null {
  if (ref.kind === "span") {
    const path = ref.target;
    if (!/^[\w.-]+(\/[\w.-]+)*\/?$/.test(path) || !path.includes("/")) return null;
    if (!rootFolders(root).has(path.split("/")[0]!)) return null;
    const full = join(root, path);
    if (!existsSync(full)) return `\`${path}\`: no such file or folder`;
    if (path.endsWith("/") && !statSync(full).isDirectory()) return `\`${path}\`: not a folder`;
    return null;
  }
  const target = ref.target;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // http:, https:, mailto:
  const hash = target.indexOf("#");
  const pathPart = decodeURI(hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, "");
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  if (pathPart === "") {
    return anchor === null || ownAnchors.has(anchor)
      ? null
      : `${target}: no heading with the anchor #${anchor} in ${relative(root, mdPath)}`;
  }
  const full = resolve(dirname(mdPath), pathPart);
  if (!full.startsWith(root + sep) && full !== root) return `${target}: points outside the repository`;
  if (!existsSync(full)) return `${target}: no such file or folder`;
  const isDir = statSync(full).isDirectory();
  if (pathPart.endsWith("/") && !isDir) return `${target}: not a folder`;
  if (anchor !== null && full.endsWith(".md") && !anchorsIn(full).has(anchor)) {
    return `${target}: no heading with the anchor #${anchor} in ${relative(root, full)}`;
  }
  const code = ref.code;
  if (code === null) return null;
  if (PATH_LIKE.test(code)) {
    const want = code.replace(/^\.\//, "").replace(/\/$/, "");
    const have = relative(root, full).split(sep).join("/");
    return have === want || have.endsWith(`/${want}`)
      ? null
      : `[\`${code}\`](${target}): the text names another file`;
  }
  if (!SYMBOL.test(code) || isDir || !CODE_FILE.test(full)) return null;
  const symbol = code.replace(/\(\)$/, "");
  const names = declarationsIn(full);
  if (names.has(symbol)) return null;
  const owner = symbol.split(".")[0]!;
  const where = relative(root, full);
  return symbol.includes(".") && names.has(owner)
    ? `[\`${code}\`](${target}): ${owner} has no member ${symbol.slice(owner.length + 1)} in ${where}`
    : `[\`${code}\`](${target}): ${owner} is not declared in ${where}`;
}

function markdownFiles(): string[] {
  const files = [join(ROOT, "README.md")];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".md")) files.push(path);
    }
  };
  walk(join(ROOT, "docs"));
  return files.sort();
}

// ---- tests --------------------------------------------------------------------------------------

test("every relative link and code reference in README.md and docs/ resolves", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const md of markdownFiles()) {
    const text = readFileSync(md, "utf8");
    const own = anchorsOf(text);
    for (const ref of referencesIn(text)) {
      checked++;
      const problem = checkReference(ref, md, own);
      if (problem !== null) broken.push(`${relative(ROOT, md)}:${ref.line}: ${problem}`);
    }
  }
  assert.ok(checked > 100, `only ${checked} references found: is the parser still finding them?`);
  assert.equal(broken.length, 0, `${broken.length} broken reference(s):\n${broken.join("\n")}`);
});

test("GitHub heading slugs", () => {
  assert.equal(
    githubSlug("WebSocket errors (`src/websocket/errors.ts`)"),
    "websocket-errors-srcwebsocketerrorsts",
  );
  assert.equal(githubSlug("The lesson, measured"), "the-lesson-measured");
  assert.equal(
    githubSlug("`startResponse(status, headers, excInfo?)`"),
    "startresponsestatus-headers-excinfo",
  );
  assert.equal(
    githubSlug("Differences with llhttp (differential fuzzing)"),
    "differences-with-llhttp-differential-fuzzing",
  );
  assert.equal(githubSlug("Threads (`--threads N`)"), "threads---threads-n");
  assert.equal(githubSlug("Where we differ from PEP 3333, and why"), "where-we-differ-from-pep-3333-and-why");
  assert.deepEqual([...anchorsOf("# A\n## A\n```\n# not a heading\n```\n## A")], ["a", "a-1", "a-2"]);
});

test("declarations: top level, members, object literals; not mere uses", () => {
  const names = declarationsOf(`
    export class Conn { deadline = 0; #secret = 1; constructor() {} private onData(c: Buffer) {} get idle() { return true; } }
    interface Host { readonly tracer: unknown; closed(code: number): void }
    export const table = { open() {}, size: 3 } as const;
    export type Mode = "a" | "b";
    function helper() { const inner = 1; return inner; }
    enum Color { Red }
    helper(); Conn.prototype; notDeclared();
  `);
  for (const n of ["Conn", "Conn.deadline", "Conn.#secret", "Conn.constructor", "Conn.onData", "Conn.idle"])
    assert.ok(names.has(n), n);
  for (const n of ["Host", "Host.tracer", "Host.closed", "table", "table.open", "table.size", "Mode"])
    assert.ok(names.has(n), n);
  for (const n of ["helper", "inner", "Color", "Color.Red"]) assert.ok(names.has(n), n);
  for (const n of ["notDeclared", "Conn.prototype", "Host.onData", "prototype"]) assert.ok(!names.has(n), n);
});

test("the checker reports what is broken and accepts what is not", () => {
  const md = join(ROOT, "docs", "sample.md"); // a file that need not exist: only its folder matters
  const sample = [
    "# Sample",
    "[ok](../README.md) [gone](../nope.md) [self](#sample) [bad anchor](#nope)",
    "[`HttpConnection.onData`](../src/server/connection.ts) [`HttpConnection.nothing`](../src/server/connection.ts)",
    "[`Nothing`](../src/server/connection.ts) [`checkHandshake()`](../src/websocket/handshake.ts)",
    "[`clock.ts`](../src/server/clock.ts) [`trace.ts`](../src/server/clock.ts) [`src/http1/`](../src/http1/)",
    "`src/server/trace.ts` `src/server/nope.ts` `tsgi/asgi` `app.ts` [web](https://example.com/x)",
    "[concurrency](concurrency.md#the-lesson-measured) [wrong](concurrency.md#the-lesson)",
    "```ts",
    "[inside a fence](../nope.md) `src/nope.ts`",
    "```",
    "A span over a line break, `{ a: [b](c),",
    "d }`, is not a link.",
  ].join("\n");
  const problems = referencesIn(sample)
    .map((ref) => checkReference(ref, md, anchorsOf(sample)))
    .filter((p) => p !== null);
  assert.deepEqual(problems, [
    "../nope.md: no such file or folder",
    "#nope: no heading with the anchor #nope in docs/sample.md",
    "[`HttpConnection.nothing`](../src/server/connection.ts): HttpConnection has no member nothing in src/server/connection.ts",
    "[`Nothing`](../src/server/connection.ts): Nothing is not declared in src/server/connection.ts",
    "[`trace.ts`](../src/server/clock.ts): the text names another file",
    "`src/server/nope.ts`: no such file or folder",
    "concurrency.md#the-lesson: no heading with the anchor #the-lesson in docs/concurrency.md",
  ]);
});

test("README.md links every document in docs/ and every example in examples/", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const linked = new Set(
    referencesIn(readme)
      .filter((r) => r.kind === "link" && !/^[a-z][a-z0-9+.-]*:/i.test(r.target))
      .map((r) => r.target.replace(/#.*$/, "").replace(/\/$/, "")),
  );
  const missing: string[] = [];
  for (const md of markdownFiles()) {
    const path = relative(ROOT, md).split(sep).join("/");
    if (path !== "README.md" && !linked.has(path)) missing.push(path);
  }
  for (const entry of readdirSync(join(ROOT, "examples"))) {
    if (!linked.has(`examples/${entry}`)) missing.push(`examples/${entry}`);
  }
  assert.deepEqual(missing, [], `README.md does not link: ${missing.join(", ")}`);
});
