/**
 * Which files `--reload` watches when no `--reload-include` or
 * `--reload-exclude` says otherwise; also shown by `--help`. Apart from the
 * watcher, so the command line can show them without loading it.
 */

/** `--reload`: files whose change reloads, unless excluded: the app's sources and its JSON (uvicorn: `*.py`). */
export const DEFAULT_RELOAD_INCLUDES: readonly string[] = [
  "*.ts",
  "*.tsx",
  "*.mts",
  "*.cts",
  "*.js",
  "*.mjs",
  "*.cjs",
  "*.json",
];

/** Files that never reload unless a `--reload-include` names them: hidden files (editor locks such as `.#app.ts`). */
export const DEFAULT_RELOAD_EXCLUDES: readonly string[] = [".*"];
