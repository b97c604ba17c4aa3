/**
 * Where the server listens: unix domain sockets (permissions, a stale file
 * replaced, a live one or a non-socket refused, the file removed on
 * shutdown), inherited file descriptors (`--fd 3` and systemd's
 * LISTEN_FDS/LISTEN_PID), several addresses at once, and all of it under
 * `--workers`, where the supervisor binds.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer, type Server as NetServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseCommandLine } from "../../src/cli/args.ts";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import { adoptSystemdSockets } from "../../src/runtime/sockets.ts";
import { serve } from "../../src/serve.ts";
import { BindError, parseBind } from "../../src/server/listen.ts";
import { runCli } from "../helpers.ts";
import { ipv6Loopback, quiet, startTsgi, tempDir, WHOAMI } from "./support.ts";

let dir: string;
let cleanup: () => void;
before(() => {
  ({ dir, cleanup } = tempDir());
});
after(() => cleanup());

const app = (environ: Environ, startResponse: StartResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [`remote=${environ.REMOTE_ADDR} server=${environ.SERVER_NAME}`];
};

/** GET / over a unix socket or TCP; resolves with the body. */
function get(target: { socketPath: string } | { host: string; port: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path: "/", headers: { Host: "example.test" }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
}

function listenOnPath(path: string): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    // Probes that connect and leave at once reset the connection: not an error here.
    const other = createServer((s) => s.on("error", () => {}).end("other\n"));
    other.once("error", reject);
    other.listen(path, () => resolve(other));
  });
}

describe("--bind specs", () => {
  test("parse and refuse", () => {
    assert.deepEqual(parseBind("0.0.0.0:80"), { kind: "tcp", host: "0.0.0.0", port: 80 });
    assert.deepEqual(parseBind("[::1]:8443"), { kind: "tcp", host: "::1", port: 8443 });
    assert.deepEqual(parseBind("::"), { kind: "tcp", host: "::", port: 8000 });
    assert.deepEqual(parseBind("localhost"), { kind: "tcp", host: "localhost", port: 8000 });
    assert.deepEqual(parseBind("unix:/run/a.sock"), { kind: "unix", path: "/run/a.sock" });
    assert.deepEqual(parseBind("unix:///run/a.sock"), { kind: "unix", path: "/run/a.sock" });
    assert.deepEqual(parseBind("fd://3"), { kind: "fd", fd: 3 });
    for (const bad of ["", ":80", "a:65536", "a:x", "[::1", "[::1]x", "unix:", "fd://x"]) {
      assert.throws(() => parseBind(bad), BindError, bad);
    }
  });
});

describe("unix domain sockets", () => {
  test("serve on a path with a mode; REMOTE_ADDR is empty; the file goes on close", async () => {
    const path = join(dir, "mode.sock");
    const server = await serve(app, { bind: [`unix:${path}`], udsMode: 0o600, logger: quiet() });
    try {
      assert.deepEqual(server.urls, [`unix:${path}`]);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(await get({ socketPath: path }), "remote= server=example.test");
    } finally {
      await server.close();
    }
    assert.ok(!existsSync(path), "socket file removed on shutdown");
  });

  test("a stale socket file (its server was killed) is replaced", async () => {
    const path = join(dir, "stale.sock");
    // A process that binds the path and dies without cleaning up.
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [
        "-e",
        `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
      ]);
      child.on("exit", (_code, signal) =>
        signal === "SIGKILL" ? resolve() : reject(new Error(`exit ${signal}`)),
      );
    });
    assert.ok(statSync(path).isSocket(), "the dead server left its socket file");
    const server = await serve(app, { bind: [`unix:${path}`], logger: quiet() });
    try {
      assert.match(await get({ socketPath: path }), /^remote= /);
    } finally {
      await server.close();
    }
  });

  test("a socket another server listens on is refused and left alone", async () => {
    const path = join(dir, "live.sock");
    const other = await listenOnPath(path);
    try {
      await assert.rejects(
        serve(app, { bind: [`unix:${path}`], logger: quiet() }),
        (err: unknown) =>
          err instanceof BindError &&
          err.code === "TSGI_ERR_BIND" &&
          err.reason === "EADDRINUSE" &&
          /another server/.test(err.message),
      );
      // Still the other server's.
      const reply = await new Promise<string>((resolve, reject) => {
        const c = connect({ path });
        let data = "";
        c.on("data", (d) => (data += d));
        c.on("end", () => resolve(data));
        c.on("error", reject);
      });
      assert.equal(reply, "other\n");
    } finally {
      other.close();
    }
  });

  test("a path that is not a socket is never deleted", async () => {
    const path = join(dir, "regular-file");
    writeFileSync(path, "precious");
    await assert.rejects(serve(app, { bind: [`unix:${path}`], logger: quiet() }), /not a socket/);
    assert.ok(statSync(path).isFile());
  });
});

describe("several addresses at once", () => {
  test("two TCP ports, IPv6 when the machine has it, and a unix socket: one Listening URL each, all served", async () => {
    const v6 = await ipv6Loopback();
    const path = join(dir, "multi.sock");
    const bind = ["127.0.0.1:0", ...(v6 ? ["[::1]:0"] : []), `unix:${path}`, "127.0.0.1:0"];
    const server = await serve(app, { bind, logger: quiet() });
    try {
      const urls = server.urls;
      assert.equal(urls.length, bind.length);
      assert.match(urls[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
      if (v6) assert.match(urls[1]!, /^http:\/\/\[::1\]:\d+$/);
      assert.equal(urls.at(-2), `unix:${path}`);
      for (const url of urls) {
        const body = url.startsWith("unix:")
          ? await get({ socketPath: path })
          : await get({
              host: new URL(url).hostname.replace(/^\[|\]$/g, ""),
              port: Number(new URL(url).port),
            });
        assert.match(body, /^remote=(127\.0\.0\.1|::1|) server=example\.test$/, url);
      }
      assert.notEqual(urls[0], urls.at(-1));
    } finally {
      await server.close();
    }
  });

  test("one address that cannot be bound: the whole listen fails and nothing stays bound", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as { port: number }).port;
    const path = join(dir, "partial.sock");
    try {
      await assert.rejects(
        serve(app, { bind: [`unix:${path}`, `127.0.0.1:${port}`], logger: quiet() }),
        (err: unknown) =>
          err instanceof BindError &&
          err.message === `cannot listen on 127.0.0.1:${port}: address already in use`,
      );
      assert.ok(!existsSync(path), "the unix listener bound first was closed again");
    } finally {
      taken.close();
    }
  });
});

describe("from the command line", () => {
  test("--bind, --uds and --uds-mode with --workers 2: the supervisor binds, lines for each, file gone after SIGTERM", async () => {
    const path = join(dir, "workers.sock");
    const tsgi = await startTsgi([
      "--workers",
      "2",
      "--bind",
      "127.0.0.1:0",
      "--uds",
      path,
      "--uds-mode",
      "660",
      WHOAMI,
    ]);
    try {
      assert.equal(tsgi.urls.length, 2, tsgi.stderr());
      assert.match(tsgi.urls[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(tsgi.urls[1], `unix:${path}`);
      assert.match(
        tsgi.stderr(),
        /Listening on http:\/\/127\.0\.0\.1:\d+ \(press CTRL\+C to quit\)\n.*Listening on unix:/s,
      );
      assert.equal(statSync(path).mode & 0o777, 0o660);
      const tcp = JSON.parse(await get({ host: "127.0.0.1", port: Number(new URL(tsgi.urls[0]!).port) }));
      assert.equal(tcp.client[0], "127.0.0.1");
      const unix = JSON.parse(await get({ socketPath: path }));
      assert.deepEqual(unix.client, ["", 0]);
    } finally {
      assert.equal(await tsgi.stop(), 0);
    }
    assert.ok(!existsSync(path), "socket file removed on shutdown");
  });

  test("--host and --port named with --bind listen there too, first", async () => {
    const path = join(dir, "both.sock");
    const tsgi = await startTsgi(["--host", "127.0.0.1", "--port", "0", "--bind", `unix:${path}`, WHOAMI]);
    try {
      assert.equal(tsgi.urls.length, 2);
      assert.match(tsgi.urls[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(tsgi.urls[1], `unix:${path}`);
    } finally {
      await tsgi.stop();
    }
  });

  test("bad binds: a usage error (2), a live socket (1)", async () => {
    const bad = await runCli(["--bind", "localhost:99999", WHOAMI]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad bind address "localhost:99999": the port must be 0-65535/);
    const mode = await runCli(["--uds-mode", "660", WHOAMI]);
    assert.equal(mode.code, 2);
    const path = join(dir, "cli-live.sock");
    const other = await listenOnPath(path);
    try {
      const live = await runCli(["--uds", path, WHOAMI]);
      assert.equal(live.code, 1);
      assert.match(
        live.stderr,
        new RegExp(`tsgi: error: cannot listen on unix:${path}: another server is listening on it`),
      );
      const viaWorkers = await runCli(["--workers", "2", "--uds", path, WHOAMI]);
      assert.equal(viaWorkers.code, 1);
      assert.match(viaWorkers.stderr, /another server is listening on it/);
    } finally {
      other.close();
    }
  });
});

describe("inherited sockets", () => {
  /** A listening TCP socket whose descriptor the child inherits as fd 3. */
  async function listeningFd(): Promise<{ server: NetServer; fd: number; port: number }> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    assert.ok(fd > 2);
    return { server, fd, port: (server.address() as { port: number }).port };
  }

  for (const workers of [[], ["--workers", "2"]]) {
    test(`--fd 3 ${workers.join(" ")}: serves on the inherited socket, announced by its address`, async () => {
      const { server, fd, port } = await listeningFd();
      const tsgi = await startTsgi(["--fd", "3", ...workers, WHOAMI], {
        stdio: ["ignore", "pipe", "pipe", fd],
      });
      // Our copy must not accept: stop listening here (the child's copy stays open).
      server.close();
      try {
        assert.deepEqual(tsgi.urls, [`http://127.0.0.1:${port}`]);
        for (let i = 0; i < 4; i++) {
          const body = JSON.parse(await get({ host: "127.0.0.1", port }));
          assert.deepEqual(body.server, ["127.0.0.1", port]);
        }
      } finally {
        assert.equal(await tsgi.stop(), 0);
      }
    });
  }

  test("systemd socket activation: LISTEN_FDS=1 and LISTEN_PID of the process, no address on the command line", async () => {
    const { server, fd, port } = await listeningFd();
    const tsgi = await startTsgi([WHOAMI], { stdio: ["ignore", "pipe", "pipe", fd], systemd: true });
    server.close();
    try {
      assert.deepEqual(tsgi.urls, [`http://127.0.0.1:${port}`]);
      assert.deepEqual(JSON.parse(await get({ host: "127.0.0.1", port })).server, ["127.0.0.1", port]);
    } finally {
      assert.equal(await tsgi.stop(), 0);
    }
  });

  test("parsing the command line leaves LISTEN_FDS alone; adopting at start takes the sockets and the variables", () => {
    const saved = { LISTEN_FDS: process.env.LISTEN_FDS, LISTEN_PID: process.env.LISTEN_PID };
    process.env.LISTEN_FDS = "1";
    process.env.LISTEN_PID = String(process.pid);
    try {
      const config = parseCommandLine([WHOAMI], {});
      assert.ok(config !== "help" && config !== "version");
      assert.equal(config.options.bind, undefined);
      assert.equal(process.env.LISTEN_FDS, "1", "parsing has no side effect");
      adoptSystemdSockets(config);
      assert.deepEqual(config.options.bind, ["fd://3"]);
      assert.equal(process.env.LISTEN_FDS, undefined, "the app's children do not inherit them");
      assert.equal(process.env.LISTEN_PID, undefined);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test("LISTEN_FDS meant for another process (LISTEN_PID differs) is ignored", async () => {
    const tsgi = await startTsgi(["--port", "0", WHOAMI], {
      env: { ...process.env, LISTEN_FDS: "1", LISTEN_PID: "1" },
    });
    try {
      assert.match(tsgi.urls[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await tsgi.stop();
    }
  });
});
