/**
 * `--reload` for development: watches the app's directory (and each
 * `--reload-dir`) and asks for a restart once the changes settle. The
 * restart itself is the supervisor's SIGHUP reload with one worker: a new
 * process loads the new code and takes over only once it listens, so a
 * broken edit leaves the old code serving and prints why.
 *
 * Directories are walked and watched one by one rather than with
 * `fs.watch(dir, { recursive: true })`: on Linux, Node 20 implements the
 * recursive mode by watching every directory below, node_modules included,
 * which can exhaust inotify watches on a real project; walking lets us skip
 * node_modules, .git and dist.
 */

import { type FSWatcher, readdirSync, statSync, watch } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { Logger } from "../server/log.ts";
import { type CliConfig, UsageError } from "./args.ts";
import { splitTarget } from "./load.ts";

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
  private changed: string | null = null;
  private warned = false;

  constructor(
    roots: readonly string[],
    private readonly logger: Logger,
    private readonly onChange: (path: string) => void,
    private readonly debounceMs = RELOAD_DEBOUNCE_MS,
  ) {
    for (const root of roots) this.watchTree(resolve(root));
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
    this.changed = path;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const changed = this.changed!;
      this.changed = null;
      this.onChange(changed);
    }, this.debounceMs);
  }
}

/** The directories `--reload` watches: the app module's, then each `--reload-dir`. */
export function reloadRoots(config: CliConfig, cwd = process.cwd()): string[] {
  const { module } = splitTarget(config.target);
  const roots = [dirname(resolve(cwd, module))];
  for (const dir of config.operations.reloadDirs) roots.push(resolve(cwd, dir));
  return roots;
}

/**
 * Starts watching for `--reload` and calls `reload` after each burst of
 * changes. Throws a usage error for a `--reload-dir` that is not a directory.
 */
export function watchForReload(config: CliConfig, logger: Logger, reload: () => void): ReloadWatcher {
  const roots = reloadRoots(config);
  for (const root of roots) {
    let ok = false;
    try {
      ok = statSync(root).isDirectory();
    } catch {}
    if (!ok) throw new UsageError(`--reload-dir ${root} is not a directory`);
  }
  const watcher = new ReloadWatcher(roots, logger, (path) => {
    logger.info(`--reload: ${path} changed, reloading`);
    reload();
  });
  logger.info(`--reload: watching ${roots.join(", ")} (${watcher.directories.length} directories)`);
  return watcher;
}
