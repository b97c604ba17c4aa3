/**
 * Finds and imports the app named by MODULE[:ATTR]. TypeScript modules are
 * loaded by Node itself where it strips types (Node 22.18+ and 24:
 * `process.features.typescript`), else, or when Node's stripping cannot
 * load the app, through tsx's loader API, registered only when needed so
 * other apps pay nothing for it (docs/performance.md). Below every caller:
 * the runtime loads the app here, and so does each `--threads` thread.
 */

import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { TsgiError } from "../http1/tsgi-error.ts";
import type { Logger } from "../server/log.ts";

/** The app could not be loaded; printed as one line, exit status 1. */
export class AppLoadError extends TsgiError {
  override readonly name: string = "AppLoadError";
  readonly code = "TSGI_ERR_APP_LOAD";
}

/**
 * The module loaded but exports no app (no default export, no export named
 * `app`). The runtime catches it when the module may have called `listen()`
 * instead (see src/gateways/node/takeover.ts).
 */
export class NoAppExportError extends AppLoadError {
  override readonly name = "NoAppExportError";
}

const EXTENSIONS = [".ts", ".mts", ".js", ".mjs", ".cts", ".cjs", ".tsx", ".jsx"];
const TYPESCRIPT = new Set([".ts", ".mts", ".cts", ".tsx"]);
let tsxRegistered = false;

/**
 * Node strips TypeScript types itself ("strip" or "transform"; false when
 * turned off, undefined before Node 22.10). Not for .tsx, which it refuses.
 */
const NATIVE_TYPESCRIPT = typeof (process.features as { typescript?: unknown }).typescript === "string";

/**
 * Whether a failed native import of a TypeScript app is worth another try
 * with tsx: TypeScript that type stripping does not support (enums,
 * namespaces, parameter properties, `import =`), an import tsx resolves and
 * Node does not (`./x.js` meaning `x.ts`, no extension, tsconfig paths),
 * TypeScript under node_modules, and syntax errors raised while loading
 * (decorators; an import of a type without `import type`, which tsx drops).
 * These all fail before any of the app's modules runs. A SyntaxError thrown
 * by the app's own code (JSON.parse at top level) has one of its files on
 * the stack and is reported as it is.
 */
function nativeLoadFailed(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (
    code === "ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX" ||
    code === "ERR_INVALID_TYPESCRIPT_SYNTAX" ||
    code === "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING" ||
    code === "ERR_MODULE_NOT_FOUND" ||
    code === "ERR_UNSUPPORTED_DIR_IMPORT" ||
    code === "ERR_UNKNOWN_FILE_EXTENSION"
  )
    return true;
  if (!(err instanceof SyntaxError)) return false;
  // Frames in files, but not tsgi's own (the await in importNatively shows on async stacks).
  const frames = (err.stack ?? "")
    .split("\n")
    .filter((line) => /^\s+at /.test(line) && !line.includes(OWN_URL) && !line.includes(OWN_PATH));
  return !frames.some((line) => /file:\/\/|\(\/|at \//.test(line));
}

/** Where tsgi's own modules are, as URL and path (src/ or dist/: every module and chunk is one folder below). */
const OWN_URL = new URL("..", import.meta.url).href;
const OWN_PATH = fileURLToPath(OWN_URL);

/** Splits MODULE[:ATTR] at the last colon that is not part of a Windows drive. */
export function splitTarget(target: string): { module: string; attr: string | null } {
  const colon = target.lastIndexOf(":");
  if (colon <= 1) return { module: target, attr: null };
  return { module: target.slice(0, colon), attr: target.slice(colon + 1) || null };
}

/** Resolves a module argument to a file: as given, with an extension added, or in uvicorn's dotted form. */
function findFile(module: string, cwd: string): string | null {
  const candidates = [module, ...EXTENSIONS.map((e) => module + e)];
  if (!module.includes("/") && module.includes(".") && !EXTENSIONS.includes(extname(module))) {
    const dotted = module.replaceAll(".", "/");
    candidates.push(...EXTENSIONS.map((e) => dotted + e));
  }
  for (const candidate of candidates) {
    const path = resolve(cwd, candidate);
    if (existsSync(path) && statSync(path).isFile()) return path;
  }
  return null;
}

/**
 * Imports MODULE and returns the app: ATTR if given, else the default export,
 * else the export named `app`. `logger` hears why a TypeScript app is loaded
 * with tsx where Node could strip its types.
 */
export async function loadApp(target: string, cwd = process.cwd(), logger?: Logger): Promise<unknown> {
  const { module, attr } = splitTarget(target);
  const file = findFile(module, cwd);
  if (file === null) throw new AppLoadError(`module not found: ${module}`);
  const typescript = TYPESCRIPT.has(extname(file));
  // Only a TypeScript app needs to know (node:worker_threads is not loaded for the others).
  const isMainThread = !typescript || (await import("node:worker_threads")).isMainThread;
  if (typescript && NATIVE_TYPESCRIPT && extname(file) !== ".tsx" && !tsxRegistered) {
    const native = await importNatively(file, module);
    if (!("reason" in native)) return pick(native.namespace, attr, module);
    // Said once tsx has loaded it: for a plain syntax error, tsx only words the one error line.
    const loaded = isMainThread ? await importWithTsx(file, module) : await requireInThread(file, module);
    logger?.info(`Loaded ${module} with tsx: Node's type stripping could not (${native.reason})`);
    return pick(loaded, attr, module);
  }
  if (typescript && !isMainThread) return pick(await requireInThread(file, module), attr, module);
  if (typescript && !tsxRegistered) {
    // Both hooks: outside a package with "type": "module" a .ts file is
    // CommonJS to Node, and only tsx's require hook can compile it as such.
    const [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
    esm.register();
    cjs.register();
    tsxRegistered = true;
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = exportsOf((await import(pathToFileURL(file).href)) as Record<string, unknown>);
  } catch (err) {
    throw new AppLoadError(`error while importing ${module}: ${importFailure(err, file)}`, { cause: err });
  }
  return pick(namespace, attr, module);
}

/** The module namespace as the app sees it: a CommonJS module's real exports when it marks them so. */
function exportsOf(namespace: Record<string, unknown>): Record<string, unknown> {
  // A module compiled to CommonJS arrives as { default: module.exports }; when
  // module.exports carries the __esModule mark, its own keys are the real exports.
  const exports = namespace.default as Record<string, unknown> | undefined;
  return exports !== null && typeof exports === "object" && exports.__esModule === true ? exports : namespace;
}

/**
 * A TypeScript app through Node's own type stripping: its namespace, or why
 * Node cannot load it when tsx should (see {@link nativeLoadFailed}).
 */
async function importNatively(
  file: string,
  module: string,
): Promise<{ namespace: Record<string, unknown> } | { reason: string }> {
  try {
    return { namespace: exportsOf((await import(pathToFileURL(file).href)) as Record<string, unknown>) };
  } catch (err) {
    if (!nativeLoadFailed(err)) {
      throw new AppLoadError(`error while importing ${module}: ${importFailure(err, file)}`, { cause: err });
    }
    return { reason: err instanceof Error ? err.message.split("\n")[0]! : String(err) };
  }
}

/**
 * A TypeScript app through tsx after Node's own import failed. Node keeps a
 * module that failed in its module map, so tsx's `tsImport` loads the app in
 * a namespace of its own (its modules' URLs carry a query), where every
 * module loads afresh, through tsx's import or require hooks as the file's
 * module kind asks.
 */
async function importWithTsx(file: string, module: string): Promise<Record<string, unknown>> {
  const { tsImport } = await import("tsx/esm/api");
  tsxRegistered = true;
  try {
    return exportsOf((await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>);
  } catch (err) {
    throw new AppLoadError(`error while importing ${module}: ${importFailure(err, file)}`, { cause: err });
  }
}

/**
 * A TypeScript app inside a worker thread (`--threads`): Node 20 does not
 * apply module hooks in worker threads, so tsx's require hook compiles the
 * file instead (which rules out top-level await in threaded apps).
 */
async function requireInThread(file: string, module: string): Promise<Record<string, unknown>> {
  if (!tsxRegistered) {
    (await import("tsx/cjs/api")).register();
    tsxRegistered = true;
  }
  try {
    return createRequire(import.meta.url)(file) as Record<string, unknown>;
  } catch (err) {
    throw new AppLoadError(`error while importing ${module}: ${importFailure(err, file)}`, { cause: err });
  }
}

/**
 * One line for an import failure. A syntax error says where it is
 * (`file:line:column: reason`, columns from 1 as editors count them), at
 * every log level: without the place the reason is of little use.
 */
function importFailure(err: unknown, file: string): string {
  if (!(err instanceof Error)) return String(err);
  const lines = err.message.split("\n");
  // tsx hands on esbuild's message: "Transform failed with N error(s):" and then
  // one "file:line:column: ERROR: reason" line each (esbuild counts columns from 0).
  if (/^Transform failed with \d+ errors?:$/.test(lines[0]!)) {
    for (const line of lines.slice(1)) {
      const m = /^(.*):(\d+):(\d+): ERROR: (.*)$/.exec(line);
      if (m !== null) return `${m[1]}:${m[2]}:${Number(m[3]) + 1}: ${m[4]}`;
    }
    return lines.slice(0, 2).join(" ");
  }
  // V8's SyntaxError from an ES module names no place at all (Node only adds it
  // when the error is fatal): ask esbuild, which tsx brings, where it is.
  if (err instanceof SyntaxError && !TYPESCRIPT.has(extname(file))) {
    const where = syntaxErrorPlace(file);
    if (where !== null) return `${where}: ${lines[0]}`;
  }
  return lines[0]!;
}

interface EsbuildFailure {
  errors?: { location?: { file: string; line: number; column: number } | null }[];
}

/** `file:line:column` of the first syntax error in a JavaScript file, or null if esbuild finds none. */
function syntaxErrorPlace(file: string): string | null {
  try {
    const fromTsx = createRequire(createRequire(import.meta.url).resolve("tsx/package.json"));
    const esbuild = fromTsx("esbuild") as {
      transformSync(source: string, options: { loader: string; sourcefile: string }): unknown;
    };
    esbuild.transformSync(readFileSync(file, "utf8"), {
      loader: extname(file) === ".jsx" ? "jsx" : "js",
      sourcefile: file,
    });
  } catch (err) {
    const location = (err as EsbuildFailure).errors?.[0]?.location;
    if (location != null) return `${location.file}:${location.line}:${location.column + 1}`;
  }
  return null;
}

/**
 * A CommonJS module that exports nothing arrives as `{ default: {} }`: that
 * is no app (a `server.js` that calls `app.listen()` and exports nothing).
 */
function isEmptyExports(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === "object" &&
    Object.getPrototypeOf(value) === Object.prototype &&
    Reflect.ownKeys(value).length === 0
  );
}

/** ATTR of the module, else its default export, else its export named `app`. */
function pick(namespace: Record<string, unknown>, attr: string | null, module: string): unknown {
  if (attr !== null) {
    if (!(attr in namespace) || namespace[attr] === undefined) {
      throw new AppLoadError(`attribute "${attr}" not found in module ${module}`);
    }
    return namespace[attr];
  }
  const app = namespace.default ?? namespace.app;
  if (app === undefined || (namespace.app === undefined && isEmptyExports(app))) {
    throw new NoAppExportError(`module ${module} has no default export and no export named "app"`);
  }
  return app;
}
