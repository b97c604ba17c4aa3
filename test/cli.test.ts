/**
 * The built CLI (dist/cli/main.js) as a user runs it: serving the demo app,
 * picking the app out of a module, one-line failures with exit codes, --help
 * and --version, option effects, and graceful shutdown on SIGTERM/SIGINT.
 * Needs `npm run build` first (`npm test` does it).
 */

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { OPTIONS, parseCommandLine } from "../src/cli/args.ts";
import { UsageError } from "../src/runtime/errors.ts";
import { CLI, type CliProcess, ROOT, rawRequest, runCli, startCli, statuses } from "./helpers.ts";

const APPS = "test/fixtures/apps";
const DEMO = "examples/demo_app.ts";

before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
});

/** Sends `signal` and resolves with the exit code. */
async function stop(cli: CliProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  cli.child.kill(signal);
  return cli.exited;
}

/** Resolves once `predicate` holds, polling; rejects after `ms`. */
async function waitFor(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A complete request with a body of `size` bytes. */
function post(path: string, size: number, extra = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${size}\r\n${extra}Connection: close\r\n\r\n${"b".repeat(size)}`;
}

/** The body of a raw Content-Length response. */
function bodyOf(text: string): string {
  return text.slice(text.indexOf("\r\n\r\n") + 4);
}

/** Asserts a failed run: the exit code and a single `tsgi: error:` line, no stack trace. */
function assertOneLineError(
  result: { code: number | null; stdout: string; stderr: string },
  code: number,
  message: RegExp,
): void {
  assert.equal(result.code, code, result.stderr);
  assert.equal(result.stdout, "");
  const lines = result.stderr.split("\n");
  assert.equal(lines.length, 2, `one line expected:\n${result.stderr}`);
  assert.equal(lines[1], "");
  assert.match(lines[0]!, /^tsgi: error: /);
  assert.match(lines[0]!, message);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

// ---- serving ------------------------------------------------------------------------

describe("serving", () => {
  test("--port 0 announces the real port and serves the demo app", async () => {
    const cli = await startCli(["--port", "0", DEMO]);
    try {
      assert.notEqual(cli.port, 0);
      assert.match(cli.stderr(), new RegExp(`Listening on http://127\\.0\\.0\\.1:${cli.port}\\b`));

      const res = await fetch(`http://127.0.0.1:${cli.port}/hello?x=1`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
      assert.equal(res.headers.get("server"), "tsgi", "a Server header by default");
      const page = await res.text();
      assert.match(page, /<code>\/hello<\/code>/);
      assert.match(page, /<code>x=1<\/code>/);

      const res2 = await fetch(`http://127.0.0.1:${cli.port}/upload`, {
        method: "POST",
        body: "0123456789abc",
      });
      assert.equal(res2.status, 200);
      assert.match(await res2.text(), /13 bytes/);
    } finally {
      assert.equal(await stop(cli), 0);
    }
    // The access log goes to stdout, one line per request.
    const lines = cli.stdout().split("\n").filter(Boolean);
    assert.equal(lines.length, 2, cli.stdout());
    assert.match(lines[0]!, /"GET \/hello\?x=1 HTTP\/1\.1" 200 \d+ /);
    assert.match(lines[1]!, /"POST \/upload HTTP\/1\.1" 200 \d+ /);
    assert.match(cli.stderr(), /INFO: Stopped\n$/);
  });

  test("MODULE picks the default export over `app`; MODULE:ATTR picks an export", async () => {
    const cases: [string[], string, RegExp][] = [
      [[`${APPS}/default_app.ts`], "/p", /^default export GET \/p 0$/],
      [[`${APPS}/default_app.ts:other`], "/", /^other export$/],
      [[`${APPS}/named_app.js`], "/x", /^named app \/x$/],
    ];
    await Promise.all(
      cases.map(async ([args, path, expected]) => {
        const cli = await startCli(["--port", "0", "--no-access-log", ...args]);
        try {
          const res = await fetch(`http://127.0.0.1:${cli.port}${path}`);
          assert.equal(res.status, 200);
          assert.match(await res.text(), expected, args.join(" "));
        } finally {
          assert.equal(await stop(cli), 0);
        }
      }),
    );
  });
});

describe("TypeScript apps outside a module package", () => {
  // A fresh directory has no package.json with "type": "module", so Node
  // takes .ts files there as CommonJS: the README's first app must still load.
  test("a .ts WSGI app and a .ts Fetch app with ESM syntax load and serve, named exports too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsgi-cli-"));
    try {
      writeFileSync(
        join(dir, "hello.ts"),
        [
          'import type { Environ, StartResponse } from "tsgi";',
          "export default function app(environ: Environ, startResponse: StartResponse) {",
          '  startResponse("200 OK", [["Content-Type", "text/plain"]]);',
          '  return ["wsgi " + environ.PATH_INFO];',
          "}",
          'export const other = (_e: Environ, sr: StartResponse) => { sr("200 OK", []); return ["other"]; };',
          "",
        ].join("\n"),
      );
      writeFileSync(
        join(dir, "hello_fetch.ts"),
        'export default { fetch: (r: Request) => new Response("fetch " + new URL(r.url).pathname) };\n',
      );
      const cases: [string, string][] = [
        ["hello.ts", "wsgi /a"],
        ["hello.ts:other", "other"],
        ["hello_fetch.ts", "fetch /a"],
      ];
      for (const [target, expected] of cases) {
        const cli = await startCli(["--port", "0", "--no-access-log", target], { cwd: dir });
        try {
          assert.equal(await (await fetch(`http://127.0.0.1:${cli.port}/a`)).text(), expected, target);
        } finally {
          assert.equal(await stop(cli), 0);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- failures -----------------------------------------------------------------------

describe("failures print one line and exit non-zero", { concurrency: 4 }, () => {
  const appErrors: [string, string[], RegExp][] = [
    [
      "module not found",
      [`${APPS}/no_such_module.ts`],
      /module not found: test\/fixtures\/apps\/no_such_module\.ts/,
    ],
    ["attribute missing", [`${APPS}/named_app.js:missing`], /attribute "missing" not found in module/],
    ["default export not a function", [`${APPS}/not_an_app.js`], /expected a function .*got number/],
    ["ATTR not a function", [`${APPS}/named_app.js:notAnApp`], /expected a function .*got string/],
    ["import error", [`${APPS}/throws_on_import.js`], /error while importing .*: fixture exploded on import/],
  ];
  for (const [name, args, message] of appErrors) {
    test(`${name} → exit 1`, async () => {
      assertOneLineError(await runCli(["--port", "0", ...args]), 1, message);
    });
  }

  test("a syntax error in a .ts, .js or .cjs app: file:line:column and the reason, at the default level", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsgi-cli-"));
    try {
      const source = "export default function app(environ, startResponse) {\n  const x = ;\n}\n";
      for (const name of ["broken.ts", "broken.js", "broken.mjs"]) writeFileSync(join(dir, name), source);
      writeFileSync(join(dir, "broken.cjs"), "module.exports = function app() {\n  return [;\n};\n");
      for (const [name, where] of [
        ["broken.ts", ":2:13"],
        ["broken.js", ":2:13"],
        ["broken.mjs", ":2:13"],
        ["broken.cjs", ":2:11"],
      ] as const) {
        const result = await runCli(["--port", "0", name], { cwd: dir });
        const path = join(dir, name).replaceAll(/[.\\/]/g, "\\$&");
        assertOneLineError(
          result,
          1,
          new RegExp(
            `error while importing ${name.replace(".", "\\.")}: ${path}${where}: Unexpected (token )?["';]`,
          ),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an async function of one or two parameters is refused: it looks like a Fetch handler", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsgi-cli-"));
    try {
      writeFileSync(
        join(dir, "handler.js"),
        'export default async (request) => new Response("fetch " + request.method);\n',
      );
      assertOneLineError(
        await runCli(["--port", "0", "handler.js"], { cwd: dir }),
        1,
        /handler\.js is not an app: an async function of 1 parameter cannot be a WSGI-style app; it looks like a Fetch handler \(request, info\): run it with --interface fetch/,
      );
      const cli = await startCli(["--port", "0", "--no-access-log", "--interface", "fetch", "handler.js"], {
        cwd: dir,
      });
      try {
        assert.equal(await (await fetch(`http://127.0.0.1:${cli.port}/`)).text(), "fetch GET");
      } finally {
        assert.equal(await stop(cli), 0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("port in use → exit 1", async () => {
    const blocker: NetServer = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = blocker.address() as { port: number };
      const result = await runCli(["--port", String(port), `${APPS}/named_app.js`]);
      assertOneLineError(
        result,
        1,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`),
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  const usageErrors: [string[], RegExp][] = [
    [["--port", "abc", DEMO], /--port must be a port number/],
    [["--port", "70000", DEMO], /--port must be a port number/],
    [["--port", "-1", DEMO], /--port must be a port number|unknown option/],
    [["--port"], /--port needs a value/],
    [["--bogus", DEMO], /unknown option --bogus/],
    [["-x", DEMO], /unknown option -x/],
    [[], /missing MODULE\[:ATTR\]/],
    [[DEMO, "extra"], /unexpected argument extra/],
    [["--max-body-size", "lots", DEMO], /--max-body-size must be a size in bytes/],
    [["--max-header-count", "0", DEMO], /--max-header-count must be a positive integer/],
    [["--header-timeout", "soon", DEMO], /--header-timeout must be a number of seconds/],
    [["--log-level", "loud", DEMO], /--log-level must be critical, error, warning, info or debug/],
    [["--interface", "cgi", DEMO], /--interface must be one of auto, wsgi/],
    [["--no-access-log=yes", DEMO], /--no-access-log takes no value/],
  ];
  for (const [args, message] of usageErrors) {
    test(`usage error ${JSON.stringify(args)} → exit 2`, async () => {
      assertOneLineError(await runCli(args), 2, message);
    });
  }

  test("--log-level debug adds the stack trace, down to the app's own error", async () => {
    const result = await runCli(["--log-level", "debug", "--port", "0", `${APPS}/throws_on_import.js`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^tsgi: error: error while importing .*: fixture exploded on import\n/);
    assert.match(result.stderr, /\n\s+at /, "a stack trace");
    // The trace that matters is where the app threw, not only where tsgi noticed.
    assert.match(result.stderr, /throws_on_import\.js:\d+/);
  });

  test("--log-level debug adds the stack trace to a not-found module too", async () => {
    const result = await runCli(["--log-level", "debug", `${APPS}/no_such_module.ts`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^tsgi: error: module not found/);
    assert.match(result.stderr, /\n\s+at /);
  });
});

// ---- help and version ------------------------------------------------------------------

describe("--help and --version", () => {
  test("--help lists every option and exits 0", async () => {
    const result = await runCli(["--help"]);
    assert.equal(result.code, 0);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, /^Usage: tsgi \[OPTIONS\] MODULE\[:ATTR\]\n/);
    assert.ok(OPTIONS.length > 10);
    for (const option of OPTIONS) {
      const line = result.stdout
        .split("\n")
        .find(
          (l) =>
            l.startsWith(`  --${option.flag} `) ||
            l.startsWith(`  --${option.flag}[`) ||
            l === `  --${option.flag}`,
        );
      assert.ok(line !== undefined, `--help lists --${option.flag}`);
      assert.ok(line.includes(option.help), `--${option.flag} has its help text`);
      if (option.shown !== undefined) assert.ok(line.includes(`[default: ${option.shown}]`), line);
    }
    assert.match(result.stdout, /-h, --help/);
    assert.match(result.stdout, /--version/);
    const short = await runCli(["-h"]);
    assert.equal(short.code, 0);
    assert.equal(short.stdout, result.stdout);
  });

  test("--version prints the package version and exits 0", async () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { version: string };
    const result = await runCli(["--version"]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `tsgi ${pkg.version}\n`);
    assert.equal(result.stderr, "");
  });
});

// ---- option effects ---------------------------------------------------------------------

describe("options take effect", () => {
  test("size values accept k/m/g suffixes (KiB)", () => {
    const limits = (value: string) => {
      const config = parseCommandLine(["--max-body-size", value, "app.ts"]);
      assert.ok(typeof config === "object");
      return config.options.limits.maxBodySize;
    };
    assert.equal(limits("10"), 10);
    assert.equal(limits("1k"), 1024);
    assert.equal(limits("1K"), 1024);
    assert.equal(limits("64kb"), 64 * 1024);
    assert.equal(limits("64KiB"), 64 * 1024);
    assert.equal(limits("2m"), 2 * 1024 * 1024);
    assert.equal(limits("1g"), 1024 ** 3);
    assert.throws(() => limits("1.5k"), UsageError);
    assert.throws(() => limits("k"), UsageError);
    const config = parseCommandLine(["--header-timeout=2.5", "--port=0", "app.ts:handler"]);
    assert.ok(typeof config === "object");
    assert.equal(config.options.headerTimeout, 2500);
    assert.equal(config.options.port, 0);
    assert.equal(config.target, "app.ts:handler");
  });

  test("--max-body-size and --max-request-line-size; --no-access-log; --no-server-header", async () => {
    const cli = await startCli([
      "--port",
      "0",
      "--max-body-size",
      "10",
      "--max-request-line-size",
      "100",
      "--no-access-log",
      "--no-server-header",
      `${APPS}/default_app.ts`,
    ]);
    try {
      const ok = await rawRequest(cli.port, post("/", 10));
      assert.deepEqual(statuses(ok.text), [200]);
      assert.equal(bodyOf(ok.text), "default export POST / 10");
      assert.doesNotMatch(ok.text, /\r\nServer:/i);

      const big = await rawRequest(cli.port, post("/", 11));
      assert.deepEqual(statuses(big.text), [413]);
      const chunked = await rawRequest(
        cli.port,
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nbbbbbb\r\n5\r\nbbbbb\r\n0\r\n\r\n",
      );
      assert.deepEqual(statuses(chunked.text), [413], "a chunked body crossing the limit midway");

      // "GET " + path + " HTTP/1.1" is 13 bytes plus the path.
      const atLimit = await rawRequest(
        cli.port,
        `GET /${"a".repeat(86)} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
      );
      assert.deepEqual(statuses(atLimit.text), [200], "a 100-byte request line is allowed");
      const over = await rawRequest(cli.port, `GET /${"a".repeat(87)} HTTP/1.1\r\nHost: t\r\n\r\n`);
      assert.deepEqual(statuses(over.text), [414]);
    } finally {
      assert.equal(await stop(cli), 0);
    }
    assert.equal(cli.stdout(), "", "no access lines");
  });

  test("a size with a suffix on the command line: --max-body-size 1k", async () => {
    const cli = await startCli([
      "--port",
      "0",
      "--max-body-size",
      "1k",
      "--no-access-log",
      `${APPS}/named_app.js`,
    ]);
    try {
      assert.deepEqual(statuses((await rawRequest(cli.port, post("/", 1024))).text), [200]);
      assert.deepEqual(statuses((await rawRequest(cli.port, post("/", 1025))).text), [413]);
    } finally {
      assert.equal(await stop(cli), 0);
    }
  });
});

// ---- shutdown -----------------------------------------------------------------------

/** Opens a connection and collects what arrives. */
async function client(
  port: number,
): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let data = "";
  socket.on("data", (chunk: Buffer) => (data += chunk.toString("latin1")));
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  return { socket, received: () => data, closed };
}

/**
 * Starts the slow app with a request in flight: the head is in and answered
 * with 100 Continue, so the server is mid-exchange when the signal arrives.
 */
async function inFlight(): Promise<{ cli: CliProcess; conn: Awaited<ReturnType<typeof client>> }> {
  const cli = await startCli(["--port", "0", "--no-access-log", `${APPS}/slow_app.ts`]);
  const conn = await client(cli.port);
  conn.socket.write("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  await waitFor(() => conn.received().includes("HTTP/1.1 100 Continue\r\n\r\n"), "100 Continue");
  return { cli, conn };
}

describe("graceful shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal}: the in-flight request completes, then exit 0`, async () => {
      const { cli, conn } = await inFlight();
      cli.child.kill(signal);
      await waitFor(() => cli.stderr().includes(`${signal}: shutting down`), "the shutdown log line");

      // No new connections once shutting down.
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = connect(cli.port, "127.0.0.1", () => {
            s.destroy();
            resolve(null);
          });
          s.on("error", reject);
        }),
        /ECONNREFUSED/,
      );

      const start = Date.now();
      conn.socket.write("hello"); // the body: the app runs now and blocks ~300 ms
      await conn.closed;
      const response = conn.received().slice(conn.received().indexOf("\r\n\r\n") + 4);
      assert.deepEqual(statuses(response), [200]);
      assert.match(response, /\r\nConnection: close\r\n/);
      assert.ok(response.endsWith("\r\n\r\nslow done 5"), response);
      assert.ok(Date.now() - start >= 250, "the app really blocked");
      assert.equal(await cli.exited, 0);
      assert.match(cli.stderr(), /slow app: started\n/);
      assert.match(cli.stderr(), /INFO: Stopped\n$/);
    });
  }

  test("an idle server stops at once on SIGTERM", async () => {
    const cli = await startCli(["--port", "0", "--no-access-log", `${APPS}/named_app.js`]);
    const keepAlive = await client(cli.port);
    keepAlive.socket.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    await waitFor(() => keepAlive.received().endsWith("named app /"), "the response");
    const start = Date.now();
    assert.equal(await stop(cli), 0);
    await keepAlive.closed; // the idle keep-alive connection was closed by the server
    assert.ok(Date.now() - start < 3000);
  });

  test("a second signal exits at once with status 1", async () => {
    const { cli, conn } = await inFlight();
    cli.child.kill("SIGTERM");
    await waitFor(() => cli.stderr().includes("SIGTERM: shutting down"), "the shutdown log line");
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 1);
    assert.match(cli.stderr(), /SIGTERM again: exiting without waiting/);
    await conn.closed;
  });
});
