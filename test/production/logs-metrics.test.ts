/**
 * Logs, metrics and configuration: each access log format parsed field by
 * field, the access log file (appended, reopened on SIGUSR1), Prometheus
 * metrics summed over `--workers 2`, and every option from `TSGI_*`
 * variables with the command line winning.
 */

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { envName, helpText, OPTIONS, parseCommandLine } from "../../src/cli/args.ts";
import { UsageError } from "../../src/runtime/errors.ts";
import { serve } from "../../src/serve.ts";
import { escapeField } from "../../src/server/access-log.ts";
import { Logger } from "../../src/server/log.ts";
import { Capture, startServer } from "../helpers.ts";
import { waitFor } from "../workers/support.ts";
import { exitWithin, get, parsePrometheus, sample, startTsgi } from "./operations-support.ts";

let dir: string;
let app: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "tsgi-ops-"));
  app = join(dir, "app.mjs");
  // The pid tells which worker answered; /missing is a 404; /big sends 1000 bytes.
  writeFileSync(
    app,
    `export default { fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/missing") return new Response("no\\n", { status: 404 });
      if (path === "/big") return new Response("x".repeat(1000));
      return new Response(String(process.pid));
    } };\n`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A server whose access lines in `format` land in the returned capture. */
async function serveWithFormat(format: "short" | "common" | "combined" | "json") {
  const access = new Capture();
  const logger = new Logger(
    "info",
    new Capture() as unknown as NodeJS.WritableStream,
    access as unknown as NodeJS.WritableStream,
    format,
  );
  const s = await startServer({ fetch: () => new Response("hello") }, { interface: "fetch", logger });
  return { ...s, access };
}

/** Access lines written so far (they go out once per event-loop turn). */
async function lines(access: Capture, n: number): Promise<string[]> {
  await waitFor(() => access.text.split("\n").length > n, `${n} access lines`, 5000);
  return access.text.trimEnd().split("\n");
}

describe("access log formats", () => {
  const headers = { referer: "http://example.test/from", "user-agent": 'probe "1" \\ ok' };

  test("common: CLF fields, then the response time in seconds", async () => {
    const s = await serveWithFormat("common");
    try {
      await get(s.port, "/path?q=1", headers);
      const [line] = await lines(s.access, 1);
      const m =
        /^(\S+) - - \[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) \+0000\] "(\S+) (\S+) (HTTP\/1\.\d)" (\d{3}) (\d+) (\d+\.\d{3})$/.exec(
          line!,
        );
      assert.ok(m, line);
      assert.equal(m[1], "127.0.0.1");
      assert.equal(m[8], "GET");
      assert.equal(m[9], "/path?q=1");
      assert.equal(m[10], "HTTP/1.1");
      assert.equal(m[11], "200");
      assert.equal(m[12], "5");
      // The date is today's (UTC).
      assert.equal(Number(m[4]), new Date().getUTCFullYear());
    } finally {
      await s.server.close();
    }
  });

  test("combined: referer and user agent quoted and escaped, then the response time", async () => {
    const s = await serveWithFormat("combined");
    try {
      await get(s.port, "/c", headers);
      const [line] = await lines(s.access, 1);
      const m =
        /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/c HTTP\/1\.1" 200 5 "([^"]*)" "((?:[^"\\]|\\.)*)" (\d+\.\d{3})$/.exec(
          line!,
        );
      assert.ok(m, line);
      assert.equal(m[1], "http://example.test/from");
      assert.equal(m[2], 'probe \\"1\\" \\\\ ok');
    } finally {
      await s.server.close();
    }
  });

  test("bytes: a string body counts its UTF-8 bytes, not its characters", async () => {
    const access = new Capture();
    const logger = new Logger(
      "info",
      new Capture() as unknown as NodeJS.WritableStream,
      access as unknown as NodeJS.WritableStream,
      "json",
    );
    // 7 characters, 10 bytes in UTF-8.
    const s = await startServer(
      { fetch: () => new Response("h\u00e9llo \u2603") },
      { interface: "fetch", logger },
    );
    try {
      await get(s.port, "/u");
      const [line] = await lines(access, 1);
      assert.equal((JSON.parse(line!) as { bytes: number }).bytes, 10);
    } finally {
      await s.server.close();
    }
  });

  test("json: one object per line with every field typed", async () => {
    const s = await serveWithFormat("json");
    try {
      await get(s.port, "/j?x=1", headers);
      await get(s.port, "/k");
      const parsed = (await lines(s.access, 2)).map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(parsed.length, 2);
      const first = parsed[0]!;
      assert.equal(first.remote_addr, "127.0.0.1");
      assert.equal(typeof first.remote_port, "number");
      assert.equal(first.method, "GET");
      assert.equal(first.target, "/j?x=1");
      assert.equal(first.protocol, "HTTP/1.1");
      assert.equal(first.status, 200);
      assert.equal(first.bytes, 5);
      assert.equal(first.complete, true);
      assert.equal(typeof first.duration, "number");
      assert.ok((first.duration as number) >= 0);
      assert.equal(first.referer, headers.referer);
      assert.equal(first.user_agent, headers["user-agent"]);
      assert.ok(!Number.isNaN(Date.parse(first.time as string)));
      assert.equal(parsed[1]!.referer, null);
    } finally {
      await s.server.close();
    }
  });

  test("a request that cannot be parsed is one line with no request and no duration", async () => {
    const s = await serveWithFormat("json");
    try {
      const { rawRequest } = await import("../helpers.ts");
      const raw = await rawRequest(s.port, "GARBAGE\r\n\r\n");
      const [line] = await lines(s.access, 1);
      const entry = JSON.parse(line!) as Record<string, unknown>;
      assert.equal(entry.status, 400);
      // Body bytes, as for every other response (nginx's $body_bytes_sent): not the head.
      const body = raw.data.subarray(raw.data.indexOf("\r\n\r\n") + 4);
      assert.ok(body.length > 0);
      assert.equal(entry.bytes, body.length, line);
      assert.equal(entry.method, null);
      assert.equal(entry.duration, null);
      // Logged quietly: nothing at info level, and never a stack trace.
      assert.doesNotMatch(s.errors.text, /at .*\.ts:\d+/);
    } finally {
      await s.server.close();
    }
  });

  test("a unix socket peer shows as unix: (nginx's $remote_addr), with no port", async () => {
    const path = join(dir, "access.sock");
    for (const format of ["short", "common", "json"] as const) {
      const access = new Capture();
      const logger = new Logger(
        "info",
        new Capture() as unknown as NodeJS.WritableStream,
        access as unknown as NodeJS.WritableStream,
        format,
      );
      const server = await serve({ fetch: () => new Response("hello") }, { bind: [`unix:${path}`], logger });
      try {
        await new Promise<void>((resolve, reject) => {
          const req = httpRequest({ socketPath: path, path: "/u" }, (res) => {
            res.resume();
            res.on("end", resolve);
          });
          req.on("error", reject);
          req.end();
        });
        const [line] = await lines(access, 1);
        if (format === "json") {
          const entry = JSON.parse(line!) as Record<string, unknown>;
          assert.equal(entry.remote_addr, "unix:");
          assert.equal(entry.remote_port, null);
        } else if (format === "short") {
          assert.match(line!, /^unix: - "GET \/u HTTP\/1\.1" 200 5 /);
        } else {
          assert.match(line!, /^unix: - - \[/);
        }
      } finally {
        await server.close();
      }
    }
  });

  test("escapeField keeps a client from ending a quoted field or starting a line", () => {
    assert.equal(escapeField('a"b\\c\nd\x7f\xe9'), 'a\\"b\\\\c\\x0ad\\x7f\\xe9');
    assert.equal(escapeField("plain"), "plain");
  });
});

describe("TSGI_* environment variables", () => {
  test("every option has one, named by the rule --help states", () => {
    assert.equal(envName("max-body-size"), "TSGI_MAX_BODY_SIZE");
    assert.equal(envName("no-access-log"), "TSGI_NO_ACCESS_LOG");
    assert.match(helpText(), /TSGI_MAX_BODY_SIZE=50m/);
    const names = new Set(OPTIONS.map((o) => envName(o.flag)));
    assert.equal(names.size, OPTIONS.length);
  });

  test("values, flags and repeatable options are read; the command line wins", () => {
    const env = {
      TSGI_PORT: "0",
      TSGI_HOST: "127.0.0.2",
      TSGI_WORKERS: "3",
      TSGI_ACCESS_LOG_FORMAT: "json",
      TSGI_NO_ACCESS_LOG: "1",
      TSGI_NO_SERVER_HEADER: "0",
      TSGI_MAX_BODY_SIZE: "2m",
      TSGI_HEADER_TIMEOUT: "2.5",
      TSGI_RELOAD_DIR: "a:b",
      TSGI_TRACE: "bytes",
      TSGI_LOG_LEVEL: "",
    };
    const config = parseCommandLine(["--host", "::1", "app.ts"], env);
    assert.ok(typeof config === "object");
    assert.equal(config.options.port, 0);
    assert.equal(config.options.host, "::1", "the command line wins");
    assert.equal(config.concurrency.workers, 3);
    assert.equal(config.operations.accessLogFormat, "json");
    assert.equal(config.options.accessLog, false);
    assert.equal(config.options.serverHeader, undefined, "a flag set to 0 is not set");
    assert.equal(config.options.limits.maxBodySize, 2 * 1024 * 1024);
    assert.equal(config.options.headerTimeout, 2500);
    assert.deepEqual(config.operations.reloadDirs, ["a", "b"]);
    assert.equal(config.options.trace, "bytes");
    assert.equal(config.options.logLevel, undefined, "an empty variable is unset");
    const cli = parseCommandLine(["--reload-dir", "c", "--port", "9", "app.ts"], env);
    assert.ok(typeof cli === "object");
    assert.deepEqual(
      cli.operations.reloadDirs,
      ["c"],
      "a repeated option from the command line replaces the variable's list",
    );
    assert.equal(cli.options.port, 9);
  });

  test("bad values name the variable", () => {
    assert.throws(() => parseCommandLine(["app.ts"], { TSGI_PORT: "http" }), /TSGI_PORT must be a port/);
    assert.throws(() => parseCommandLine(["app.ts"], { TSGI_NO_ACCESS_LOG: "maybe" }), UsageError);
    assert.throws(
      () => parseCommandLine(["app.ts"], { TSGI_ACCESS_LOG_FORMAT: "xml" }),
      /--access-log-format must be one of/,
    );
  });
});

describe("the CLI", () => {
  test("TSGI_* variables take effect; --access-log FILE gets JSON lines and is reopened on SIGUSR1", async () => {
    const log = join(dir, "access.log");
    const rotated = join(dir, "access.log.1");
    const tsgi = await startTsgi(["--port", "0", app], {
      env: {
        // TSGI_PORT would bind port 1 (refused without root): the command line's 0 wins.
        TSGI_PORT: "1",
        TSGI_ACCESS_LOG: log,
        TSGI_ACCESS_LOG_FORMAT: "json",
        TSGI_NO_SERVER_HEADER: "1",
      },
    });
    try {
      const first = await get(tsgi.port, "/first");
      assert.equal(first.headers.server, undefined, "TSGI_NO_SERVER_HEADER=1");
      await waitFor(() => readFileSync(log, "utf8").includes("/first"), "the first line in the file", 5000);
      renameSync(log, rotated);
      tsgi.child.kill("SIGUSR1");
      await waitFor(() => tsgi.stderr().includes("reopened the access log"), "the reopen", 5000);
      await get(tsgi.port, "/second");
      await waitFor(
        () => {
          try {
            return readFileSync(log, "utf8").includes("/second");
          } catch {
            return false;
          }
        },
        "the second line in the new file",
        5000,
      );
      tsgi.child.kill("SIGTERM");
      assert.equal(await exitWithin(tsgi, 10_000), 0);
      const old = readFileSync(rotated, "utf8").trimEnd().split("\n");
      const now = readFileSync(log, "utf8").trimEnd().split("\n");
      assert.deepEqual(
        old.map((l) => (JSON.parse(l) as { target: string }).target),
        ["/first"],
      );
      assert.deepEqual(
        now.map((l) => (JSON.parse(l) as { target: string }).target),
        ["/second"],
      );
      assert.equal(tsgi.stdout(), "", "nothing on stdout with a log file");
    } finally {
      tsgi.kill();
    }
  });

  test("--metrics with --workers 2: Prometheus text with the counts of both workers added up", async () => {
    const tsgi = await startTsgi(["--port", "0", "--workers", "2", "--metrics", "0", "--no-access-log", app]);
    try {
      const pids = new Set<string>();
      const N = 20;
      for (let i = 0; i < N; i++) {
        const r = await get(tsgi.port, "/");
        assert.equal(r.status, 200);
        pids.add(r.body);
      }
      assert.equal((await get(tsgi.port, "/missing")).status, 404);
      assert.equal((await get(tsgi.port, "/big")).status, 200);
      // Round-robin gave each worker some requests: the totals below are sums.
      assert.equal(pids.size, 2, `pids ${[...pids]}`);
      const scrape = await get(tsgi.metricsPort, "/metrics");
      assert.equal(scrape.status, 200);
      assert.equal(scrape.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
      const { samples, types } = parsePrometheus(scrape.body);
      assert.equal(types.get("tsgi_requests_total"), "counter");
      assert.equal(types.get("tsgi_request_duration_seconds"), "histogram");
      assert.equal(sample(samples, "tsgi_requests_total", { status: "200" }), N + 1);
      assert.equal(sample(samples, "tsgi_requests_total", { status: "404" }), 1);
      assert.equal(sample(samples, "tsgi_request_duration_seconds_count"), N + 2);
      assert.equal(sample(samples, "tsgi_request_duration_seconds_bucket", { le: "+Inf" }), N + 2);
      // Buckets are cumulative.
      const buckets = samples
        .filter((s) => s.name === "tsgi_request_duration_seconds_bucket")
        .map((s) => s.value);
      assert.deepEqual(
        buckets,
        [...buckets].sort((a, b) => a - b),
      );
      assert.ok(sample(samples, "tsgi_bytes_sent_total")! > 1000);
      assert.ok(sample(samples, "tsgi_bytes_received_total")! > 0);
      assert.equal(sample(samples, "tsgi_processes"), 3, "two workers and the supervisor");
      assert.equal(sample(samples, "tsgi_websockets_open"), 0);
      assert.ok(sample(samples, "process_resident_memory_bytes")! > 0);
      assert.equal((await get(tsgi.metricsPort, "/other")).status, 404);
      // The scrapes themselves are not counted.
      const again = parsePrometheus((await get(tsgi.metricsPort, "/metrics")).body).samples;
      assert.equal(sample(again, "tsgi_requests_total", { status: "200" }), N + 1);
      tsgi.child.kill("SIGTERM");
      assert.equal(await exitWithin(tsgi, 10_000), 0);
    } finally {
      tsgi.kill();
    }
  });
});
