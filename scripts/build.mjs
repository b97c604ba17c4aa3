/**
 * `npm run build`: compiles src/ with tsc into build/tsc (one file per
 * module), then turns that into what the package ships (dist/): every entry point at
 * its own path, and the modules they share in chunks under dist/_chunks/,
 * each module in exactly one chunk. Type declarations are copied as tsc wrote
 * them.
 *
 * Why: Node's ES module loader pays for every file it loads (resolving,
 * realpath, the package scope walk), enough that starting a server from 67
 * files made V8 optimise the loader's own functions, and a Fetch hello idled
 * 10 MiB above node:http's (docs/performance.md, "The build: one copy of
 * tsgi, a few files"). Rollup, because its `manualChunks` lets us put
 * everything a server loads at startup into three chunks while the lazily
 * loaded parts stay lazy, and because an entry point and the CLI then share
 * every class: one copy of tsgi in a process.
 *
 * Chunks sit one folder below dist/, as each layer's folder does, so a URL
 * relative to `import.meta.url` that goes up one folder first (`../workers/
 * worker.js`) means the same in src/, in build/tsc/ and in a chunk.
 */

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { rollup } from "rollup";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STAGE = join(ROOT, "build/tsc");
const TYPES = join(ROOT, "build/types");
const DIST = join(ROOT, "dist");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

// tsc twice: the declarations keep every TSDoc comment; the JavaScript keeps none,
// because Node holds each module's source text in memory for as long as it runs.
rmSync(join(ROOT, "build"), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const project = ["-p", join(ROOT, "tsconfig.build.json")];
execFileSync(process.execPath, [tsc, ...project, "--emitDeclarationOnly", "--outDir", TYPES], {
  stdio: "inherit",
});
execFileSync(process.execPath, [tsc, ...project, "--declaration", "false", "--removeComments"], {
  stdio: "inherit",
});

/** dist/x/y.js → x/y, the entry's name and path below dist. */
const entryName = (path) => path.replace(/^\.?\/?dist\//, "").replace(/\.js$/, "");

// Every file a process or an importer starts from: the bin, the package's
// exports, and the scripts that cluster workers and threads run.
const entries = new Set([
  ...Object.values(pkg.bin).map(entryName),
  ...Object.values(pkg.exports).map((target) => entryName(target.default)),
  "workers/worker",
  "threads/thread",
]);

// What `tsgi app.mjs` loads before "Listening on": the CLI, the single-process
// runtime, and the Fetch gateway with its lifespan (the default interface).
// Their static imports, all of them, go into three chunks by layer, bottom up:
// http1.js, server.js (with the WebSocket handshake check it imports), and
// runtime.js for the layers above. Three because each file stays below 128 KiB:
// glibc serves bigger allocations (Node's buffer for a file's source) from
// mmap and then raises its thresholds, after which it keeps about a MiB of
// freed memory it would otherwise return (measured on Node 24).
const STARTUP_ROOTS = ["cli/main", "runtime/single", "gateways/fetch/gateway", "gateways/lifespan"];
const STARTUP_CHUNKS = { http1: "http1", server: "server", websocket: "server" };

function staticClosure(getModuleInfo) {
  const seen = new Set();
  const visit = (id) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const next of getModuleInfo(id)?.importedIds ?? []) visit(next);
  };
  for (const root of STARTUP_ROOTS) visit(join(STAGE, `${root}.js`));
  return seen;
}

const entryIds = new Set([...entries].map((name) => join(STAGE, `${name}.js`)));
let startup = null;

const bundle = await rollup({
  input: Object.fromEntries([...entries].map((name) => [name, join(STAGE, `${name}.js`)])),
  // Node's modules and the packages tsgi loads on demand (tsx, for TypeScript apps) stay imports.
  external: (id) => id.startsWith("node:") || builtinModules.includes(id) || !/^[./]/.test(id),
  // Each entry keeps exactly the exports its module declares.
  preserveEntrySignatures: "strict",
  onwarn(warning, warn) {
    // tsc's helper for rewritten import extensions reads `this` at top level; undefined is what it expects.
    if (warning.code === "THIS_IS_UNDEFINED") return;
    warn(warning);
  },
});

rmSync(DIST, { recursive: true, force: true });
await bundle.write({
  dir: DIST,
  format: "es",
  entryFileNames: "[name].js",
  chunkFileNames: "_chunks/[name].js",
  manualChunks(id, { getModuleInfo }) {
    startup ??= staticClosure(getModuleInfo);
    if (entryIds.has(id) || !startup.has(id)) return undefined;
    return STARTUP_CHUNKS[relative(STAGE, id).split("/")[0]] ?? "runtime";
  },
});
await bundle.close();

// Declarations: every module's, at its own path (entries' declarations import the others').
function copyDeclarations(dir) {
  for (const item of readdirSync(dir, { withFileTypes: true })) {
    const from = join(dir, item.name);
    if (item.isDirectory()) copyDeclarations(from);
    else if (item.name.endsWith(".d.ts")) {
      const to = join(DIST, relative(TYPES, from));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
    }
  }
}
copyDeclarations(TYPES);
