/**
 * The published types: build the .d.ts files as `npm run build` does
 * (tsconfig.build.json, with stripInternal), then type-check a tiny consumer
 * that imports every entry of package.json "exports" with skipLibCheck off.
 * Proves that no public type leans on an `@internal` one that stripInternal
 * removed, and that no `@internal` member ships. Takes a full tsc run
 * (~15-30 s on a busy 2-core machine).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const tsc = join(root, "node_modules/typescript/bin/tsc");

function dtsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".d.ts"))
    .map((f) => join(dir, f));
}

test("the published .d.ts files hold no @internal member and type-check for a consumer of every export", () => {
  // Under node_modules so the .d.ts files resolve their own imports (node types, hono) as in a real install.
  const work = join(root, "node_modules/.cache/tsgi-dts-check");
  rmSync(work, { recursive: true, force: true });
  const pkgDir = join(work, "pkg");
  mkdirSync(join(work, "node_modules"), { recursive: true });
  execFileSync(
    process.execPath,
    [
      tsc,
      "-p",
      join(root, "tsconfig.build.json"),
      "--emitDeclarationOnly",
      "--declarationMap",
      "false",
      "--outDir",
      join(pkgDir, "dist"),
    ],
    { stdio: "pipe" },
  );
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    exports: Record<string, unknown>;
  };
  writeFileSync(
    join(pkgDir, "package.json"),
    JSON.stringify({ name: "tsgi", type: "module", exports: pkg.exports }),
  );
  symlinkSync(pkgDir, join(work, "node_modules/tsgi"), "dir");

  for (const file of dtsFiles(join(pkgDir, "dist"))) {
    assert.doesNotMatch(readFileSync(file, "utf8"), /@internal/, `${file} ships an @internal member`);
  }

  const specifiers = Object.keys(pkg.exports).map((key) => `tsgi${key.slice(1)}`);
  writeFileSync(
    join(work, "consumer.ts"),
    `${specifiers.map((s, i) => `import * as m${i} from "${s}";`).join("\n")}\nexport const all = [${specifiers.map((_, i) => `m${i}`).join(", ")}];\n`,
  );
  writeFileSync(
    join(work, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ["node"],
      },
      files: ["consumer.ts"],
    }),
  );
  try {
    execFileSync(process.execPath, [tsc, "-p", join(work, "tsconfig.json")], { stdio: "pipe", cwd: work });
  } catch (err) {
    const out = err as { stdout?: Buffer };
    assert.fail(`the published types do not type-check:\n${out.stdout?.toString() ?? String(err)}`);
  }
});
