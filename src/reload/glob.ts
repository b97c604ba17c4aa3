/**
 * Glob patterns for `--reload-include` / `--reload-exclude`, matched the way
 * uvicorn matches them (Python's `PurePath.match`): a pattern without `/`
 * is tested against the file's name (`*.ts` anywhere in the tree); one with
 * `/` against the end of its path, component by component (`lib/*.json`).
 * Written here rather than taken from a package (the server has no runtime
 * dependencies) or from Node (`path.matchesGlob` is experimental on Node 20
 * and 22, `fs.glob` is Node 22+ and walks the disk).
 */

/** `*` (any characters but `/`), `?` (one), `[abc]` / `[a-z]` / `[!abc]`, and `**` (any directories). */
export interface Glob {
  readonly pattern: string;
  /** True if `path` (relative, `/`-separated) matches. */
  matches(path: string): boolean;
}

const SPECIAL = /[\\^$.*+?()[\]{}|]/;

/** The regular expression for one pattern, anchored at both ends. */
function toRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        // `**/` is any number of directories (none included); a trailing `**` anything at all.
        const slash = pattern[i + 2] === "/";
        re += slash ? "(?:.*/)?" : ".*";
        i += slash ? 2 : 1;
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end === -1) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, end);
      const negated = body.startsWith("!");
      if (negated) body = body.slice(1);
      // Inside a class only `\`, `]` and `^` mean something to RegExp; `-` keeps its range meaning.
      body = body.replace(/[\\\]^]/g, "\\$&");
      re += negated ? `[^/${body}]` : `[${body}]`;
      i = end;
    } else {
      re += SPECIAL.test(c) ? `\\${c}` : c;
    }
  }
  return new RegExp(`^${re}$`);
}

/**
 * Compiles `pattern`.
 *
 * @example
 * compileGlob("*.ts").matches("src/app.ts");          // true: a name pattern
 * compileGlob("lib/*.json").matches("a/lib/x.json");  // true: the path's last components
 * compileGlob("lib/*.json").matches("lib/a/x.json");  // false
 */
export function compileGlob(pattern: string): Glob {
  const re = toRegExp(pattern);
  const deep = pattern.includes("**");
  // Components the pattern spans, for matching the end of a path (without `**`, exactly that many).
  const width = pattern.split("/").length;
  return {
    pattern,
    matches(path: string): boolean {
      const parts = path.split("/");
      if (!pattern.includes("/")) return re.test(parts[parts.length - 1]!);
      if (deep) {
        // `**` spans any number of components: try every suffix of the path.
        for (let start = parts.length - 1; start >= 0; start--) {
          if (re.test(parts.slice(start).join("/"))) return true;
        }
        return false;
      }
      return parts.length >= width && re.test(parts.slice(parts.length - width).join("/"));
    },
  };
}
