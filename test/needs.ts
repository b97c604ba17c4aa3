/**
 * Programs a test needs that `npm ci` cannot bring (curl, openssl, nginx,
 * redis-server, Chromium). On a developer's machine without one, the tests
 * that need it are skipped with one line naming the program and the Debian
 * package that brings it; under CI (`CI=true`, which `.ci/run`'s caller
 * sets) a missing program fails the run instead, so CI never loses a test
 * silently.
 */

import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/** A program (or file) a test needs, and the Debian packages that bring it. */
export interface Program {
  /** The command looked up on PATH, e.g. "nginx". */
  readonly command: string;
  /** What `apt-get install` needs, e.g. "nginx libnginx-mod-stream". */
  readonly packages: string;
  /** A file that must exist besides the command (a module the package installs). */
  readonly file?: string;
}

export const CURL: Program = { command: "curl", packages: "curl" };
export const OPENSSL: Program = { command: "openssl", packages: "openssl" };
export const NGINX: Program = { command: "nginx", packages: "nginx" };
/** nginx with its stream module, for the PROXY protocol tests. */
export const NGINX_STREAM: Program = {
  command: "nginx",
  packages: "nginx libnginx-mod-stream",
  file: "/usr/lib/nginx/modules/ngx_stream_module.so",
};
export const REDIS: Program = { command: "redis-server", packages: "redis-server" };
export const CHROMIUM: Program = { command: "chromium", packages: "chromium" };

/** The full path of `command` on PATH, or null. */
export function which(command: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here: try the next directory.
    }
  }
  return null;
}

/** The first of `programs` this machine lacks, or null when it has them all. */
function firstMissing(programs: readonly Program[]): Program | null {
  for (const program of programs) {
    if (which(program.command) === null) return program;
    if (program.file !== undefined && !existsSync(program.file)) return program;
  }
  return null;
}

/** True when the run is CI's, where nothing may be skipped for a missing program. */
const underCi = (): boolean => {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "0" && ci !== "false";
};

/**
 * The `skip` option for tests that need `programs`: false when all are
 * here, otherwise the line naming what is missing. Under CI a missing
 * program throws instead, failing the test file with that same line.
 *
 * @example
 * const skip = needs(NGINX_STREAM, OPENSSL);
 * describe("nginx stream proxy", { skip }, () => { ... });
 */
export function needs(...programs: Program[]): string | false {
  const missing = firstMissing(programs);
  if (missing === null) return false;
  const what = missing.file !== undefined && which(missing.command) !== null ? missing.file : missing.command;
  const line = `needs ${what}, not found on this machine: apt-get install ${missing.packages}`;
  if (underCi()) throw new Error(`CI=true and a test program is missing: ${line}`);
  return line;
}
