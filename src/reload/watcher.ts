/**
 * `--reload` for development: watches the app's directory (and each
 * `--reload-dir`) and asks for a restart once the changes settle. The
 * restart itself is the supervisor's SIGHUP reload with one worker: a new
 * process loads the new code and takes over only once it listens, so a
 * broken edit leaves the old code serving and prints why.
 *
 * Only source files reload: by extension (uvicorn watches `*.py`; here the
 * TypeScript and JavaScript extensions and `.json`), with uvicorn's
 * `--reload-include` / `--reload-exclude` globs; never the server's own
 * output (the access log file, a redirected stdout or stderr), which in the
 * watched directory would reload after every request, or in a loop.
 *
 * Directories are walked and watched one by one rather than with
 * `fs.watch(dir, { recursive: true })`: on Linux, Node 20 implements the
 * recursive mode by watching every directory below, node_modules included,
 * which can exhaust inotify watches on a real project; walking lets us skip
 * node_modules, .git and dist.
 */

import { type FSWatcher, fstatSync, readdirSync, statSync, watch } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { splitTarget } from "../loader/load.ts";
import type { RuntimeConfig } from "../runtime/config.ts";
import { UsageError } from "../runtime/errors.ts";
import type { Logger } from "../server/log.ts";
import { DEFAULT_RELOAD_EXCLUDES, DEFAULT_RELOAD_INCLUDES } from "./defaults.ts";
import { compileGlob, type Glob } from "./glob.ts";

/**
 * Decides which changed files reload, by the first rule that matches:
 * a `--reload-exclude` (no), a `--reload-include` (yes), a default exclude
 * (no), a default include (yes); anything else does not reload. So a given
 * include overrides the defaults (`--reload-include .env`), a given exclude
 * overrides everything (`--reload-exclude '*.test.ts'`). Patterns are
 * matched against the path relative to the watched directory (see glob.ts).
 */
export class ReloadFilter {
  private readonly includes: Glob[];
  private readonly excludes: Glob[];
  private readonly defaultIncludes = DEFAULT_RELOAD_INCLUDES.map(compileGlob);
  private readonly defaultExcludes = DEFAULT_RELOAD_EXCLUDES.map(compileGlob);

  constructor(includes: readonly string[] = [], excludes: readonly string[] = []) {
    this.includes = includes.map(compileGlob);
    this.excludes = excludes.map(compileGlob);
  }

  /** True if a change to `path` (relative to its watched directory, `/`-separated) reloads. */
  reloads(path: string): boolean {
    const any = (globs: Glob[]) => globs.some((g) => g.matches(path));
    if (any(this.excludes)) return false;
    if (any(this.includes)) return true;
    if (any(this.defaultExcludes)) return false;
    return any(this.defaultIncludes);
  }

  /** True if the directory at `path` (relative) is left out of the watch by a `--reload-exclude`. */
  skipsDirectory(path: string): boolean {
    return this.excludes.some((g) => g.matches(path));
  }
}

/**
 * The files this server writes to: the access log file and, when they are
 * regular files, stdout and stderr (`tsgi --reload app.ts > server.log 2>&1`).
 * Recognised by device and inode, so any name or link to them counts.
 */
export class OwnOutput {
  private readonly files: { dev: number; ino: number }[] = [];
  private readonly paths = new Set<string>();

  constructor(accessLog: string | undefined, cwd = process.cwd()) {
    if (accessLog !== undefined && accessLog !== "-") this.paths.add(resolve(cwd, accessLog));
    for (const fd of [1, 2]) {
      try {
        const st = fstatSync(fd);
        if (st.isFile()) this.files.push({ dev: st.dev, ino: st.ino });
      } catch {}
    }
  }

  /** True if `path` (absolute) is one of the server's own output files. */
  has(path: string): boolean {
    if (this.paths.has(path)) return true;
    if (this.files.length === 0) return false;
    try {
      const st = statSync(path);
      return this.files.some((f) => f.dev === st.dev && f.ino === st.ino);
    } catch {
      return false;
    }
  }
}

/**
 * Quiet time after the last change before reloading: editors write a file in
 * several steps (truncate, write, rename) and "save all" touches many files;
 * 200 ms gathers them into one reload yet feels immediate (uvicorn waits a
 * similar 100–400 ms).
 */
export const RELOAD_DEBOUNCE_MS = 200;

/** Directory names never watched: dependencies, VCS data and build output. */
const IGNORED_DIRS = new Set(["node_modules", ".git", "dist", ".hg", ".svn", "coverage"]);

/** Most directories watched; past it the walk stops with a warning rather than exhausting inotify. */
const MAX_DIRS = 4096;

/** True for files whose change should not restart the server (editor swap and backup files). */
function ignoredFile(name: string): boolean {
  return (
    name.endsWith("~") ||
    name.endsWith(".swp") ||
    name.endsWith(".swx") ||
    name.startsWith(".#") ||
    name === "4913" // vim's probe file
  );
}

/** Watches directory trees and calls `onChange` once per burst of changes. */
export class ReloadWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | null = null;
  /** The paths changed in this burst, in the order first seen. */
  private changed = new Set<string>();
  private warned = false;

  private readonly roots: string[];

  constructor(
    roots: readonly string[],
    private readonly logger: Logger,
    private readonly onChange: (paths: string[]) => void,
    private readonly filter = new ReloadFilter(),
    private readonly ownOutput: OwnOutput | null = null,
    private readonly debounceMs = RELOAD_DEBOUNCE_MS,
  ) {
    this.roots = roots.map((root) => resolve(root));
    for (const root of this.roots) this.watchTree(root);
  }

  /** `path` relative to the watched directory it is in, `/`-separated, for the globs. */
  private relativePath(path: string): string {
    for (const root of this.roots) {
      if (path.startsWith(root + sep)) return relative(root, path).split(sep).join("/");
    }
    return basename(path);
  }

  /** Directories watched right now. */
  get directories(): string[] {
    return [...this.watchers.keys()];
  }

  /** Stops watching. */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private watchTree(dir: string): void {
    if (this.watchers.has(dir) || IGNORED_DIRS.has(basename(dir))) return;
    if (!this.roots.includes(dir) && this.filter.skipsDirectory(this.relativePath(dir))) return;
    if (this.watchers.size >= MAX_DIRS) {
      if (!this.warned) this.logger.warning(`--reload: watching only the first ${MAX_DIRS} directories`);
      this.warned = true;
      return;
    }
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, name) => this.onEvent(dir, name === null ? null : String(name)));
    } catch (err) {
      this.logger.warning(`--reload: cannot watch ${dir}: ${(err as Error).message}`);
      return;
    }
    // A watched directory that is removed ends its watcher with an error on some systems.
    watcher.on("error", () => this.forget(dir));
    this.watchers.set(dir, watcher);
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) this.watchTree(join(dir, entry.name));
    }
  }

  private forget(dir: string): void {
    this.watchers.get(dir)?.close();
    this.watchers.delete(dir);
  }

  private onEvent(dir: string, name: string | null): void {
    if (name !== null && ignoredFile(name)) return;
    const path = name === null ? dir : join(dir, name);
    if (name !== null && !IGNORED_DIRS.has(name)) {
      // A new directory (created, or renamed into place) is watched from now on.
      try {
        if (statSync(path).isDirectory()) this.watchTree(path);
      } catch {
        if (this.watchers.has(path)) this.forget(path);
      }
    } else if (name !== null) {
      return;
    }
    // A directory event without a name, or a file that is not a source: nothing to reload for.
    if (name === null || !this.filter.reloads(this.relativePath(path))) return;
    if (this.ownOutput?.has(path)) return;
    this.changed.add(path);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const changed = [...this.changed];
      this.changed = new Set();
      this.onChange(changed);
    }, this.debounceMs);
  }
}

/** The directories `--reload` watches: the app module's, then each `--reload-dir`. */
export function reloadRoots(config: RuntimeConfig, cwd = process.cwd()): string[] {
  const { module } = splitTarget(config.target);
  const roots = [dirname(resolve(cwd, module))];
  for (const dir of config.operations.reloadDirs) roots.push(resolve(cwd, dir));
  return roots;
}

/**
 * Starts watching for `--reload` and calls `reload` after each burst of
 * changes. Throws a usage error for a `--reload-dir` that is not a directory.
 */
export function watchForReload(config: RuntimeConfig, logger: Logger, reload: () => void): ReloadWatcher {
  const roots = reloadRoots(config);
  for (const root of roots) {
    let ok = false;
    try {
      ok = statSync(root).isDirectory();
    } catch {}
    if (!ok) throw new UsageError(`--reload-dir ${root} is not a directory`);
  }
  const { reloadIncludes, reloadExcludes, accessLog } = config.operations;
  const watcher = new ReloadWatcher(
    roots,
    logger,
    (paths) => {
      logger.info(`--reload: ${describePaths(paths)} changed, reloading`);
      reload();
    },
    new ReloadFilter(reloadIncludes, reloadExcludes),
    new OwnOutput(accessLog),
  );
  logger.info(`--reload: watching ${roots.join(", ")} (${watcher.directories.length} directories)`);
  return watcher;
}

/** Every path of a burst (so the log says what caused a reload), up to a handful. */
function describePaths(paths: readonly string[]): string {
  const shown = 5;
  if (paths.length <= shown) return paths.join(", ");
  return `${paths.slice(0, shown).join(", ")} and ${paths.length - shown} more`;
}
