/**
 * listen() takeover through the built CLI, over real sockets: an app module
 * that calls `app.listen(PORT)` and exports nothing is served on tsgi's
 * address (the port it asked for is held by the test, so a real bind would
 * fail with EADDRINUSE), its callback runs and `server.address()` reports
 * tsgi's port; `http.createServer(app).listen({ port })`; a listen() after
 * an await; `await listen()` at the top level; a ws server on the taken server; a second server binding itself; the listened server winning
 * over an export; the off switch (flag and variable); an https.Server
 * refused; a module with neither export nor listen failing in bounded time;
 * `--workers 2`. Then the takeover object itself in one process. Needs
 * `npm run build` first.
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer as httpServer } from "node:http";
import { createServer, type Server as NetServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { ListenTakeover } from "../../src/gateways/node/takeover.ts";
import { CLI, type CliProcess, runCli, startCli } from "../helpers.ts";

const DIR = "test/fixtures/apps/takeover";
const TIMEOUT = { timeoutMs: 30_000 };

before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
});

/** A port the test holds (bound on every interface), so an app that binds it itself fails. */
let held: NetServer;
let heldPort: number;
before(async () => {
  held = createServer();
  await new Promise<void>((resolve) => held.listen(0, resolve));
  heldPort = (held.address() as { port: number }).port;
});
after(() => held.close());

/** Stops the CLI with SIGTERM and resolves with its exit code. */
async function stop(cli: CliProcess): Promise<number | null> {
  cli.child.kill("SIGTERM");
  return cli.exited;
}

/** Resolves once `cli`'s stdout matches `pattern`, with the match. */
async function stdoutMatch(cli: CliProcess, pattern: RegExp, ms = 20_000): Promise<RegExpExecArray> {
  const start = Date.now();
  for (;;) {
    const m = pattern.exec(cli.stdout());
    if (m !== null) return m;
    if (Date.now() - start > ms) throw new Error(`stdout never matched ${pattern}:\n${cli.stdout()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("listen() takeover", () => {
  test("app.listen(PORT, cb) in a module exporting nothing is served on tsgi's port", async () => {
    const cli = await startCli(["--port", "0", `${DIR}/express_listen.cjs`], {
      ...TIMEOUT,
      env: { APP_PORT: String(heldPort) },
    });
    try {
      assert.notEqual(cli.port, heldPort);
      const res = await fetch(`http://127.0.0.1:${cli.port}/`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("server"), "tsgi");
      assert.match(await res.text(), /^hello from express \d+$/);
      // The listen callback ran, and saw tsgi's port through server.address().
      const m = await stdoutMatch(cli, /app listening on port (\d+)/);
      assert.equal(Number(m[1]), cli.port);
      const address = (await (await fetch(`http://127.0.0.1:${cli.port}/address`)).json()) as {
        address: { port: number; address: string };
        listening: boolean;
      };
      assert.equal(address.address.port, cli.port);
      assert.equal(address.address.address, "127.0.0.1");
      assert.equal(address.listening, true);
      // Before tsgi listened on port 0 it could not say which port: null, as an unbound node server.
      assert.match(cli.stdout(), /address right after listen\(\): null/);
      assert.match(
        cli.stderr(),
        /express_listen\.cjs called listen\(port \d+\): tsgi serves that server instead/,
      );
      assert.doesNotMatch(cli.stderr(), /EADDRINUSE/);
    } finally {
      const code = await stop(cli);
      assert.equal(code, 0, cli.stderr());
    }
    // server.close(cb) from the app's SIGTERM handler ran once tsgi had stopped.
    assert.match(cli.stdout(), /app server closed/);
  });

  test("http.createServer(app).listen({ port }, cb); a second server binds itself", async () => {
    const cli = await startCli(["--port", "0", `${DIR}/create_server_listen.mjs`], {
      ...TIMEOUT,
      env: { APP_PORT: String(heldPort) },
    });
    try {
      const res = await fetch(`http://127.0.0.1:${cli.port}/`);
      assert.equal(await res.text(), "hello from createServer");
      const m = await stdoutMatch(cli, /app listening on port (\d+)/);
      assert.equal(Number(m[1]), cli.port);
      // The admin server is the app's own: node:http on its own port (no Server header).
      const admin = Number((await stdoutMatch(cli, /admin listening on port (\d+)/))[1]);
      assert.notEqual(admin, cli.port);
      const adminRes = await fetch(`http://127.0.0.1:${admin}/`);
      assert.equal(await adminRes.text(), "admin");
      assert.equal(adminRes.headers.get("server"), null);
      assert.match(cli.stderr(), /called listen\(port 0\) again: that server binds itself/);
    } finally {
      assert.equal(await stop(cli), 0, cli.stderr());
    }
  });

  test("a listen() after an await, once the import is over, is taken over", async () => {
    const cli = await startCli(["--port", "0", `${DIR}/listen_after_await.mjs`], {
      ...TIMEOUT,
      env: { APP_PORT: String(heldPort) },
    });
    try {
      assert.equal(await (await fetch(`http://127.0.0.1:${cli.port}/`)).text(), "hello after await");
      const m = await stdoutMatch(cli, /app listening on port (\d+)/);
      assert.equal(Number(m[1]), cli.port);
      assert.match(cli.stderr(), /listen_after_await\.mjs exports no app: waiting up to 60s/);
    } finally {
      assert.equal(await stop(cli), 0, cli.stderr());
    }
  });

  test("await listen() at the top level: served while the import still waits for the callback", async () => {
    const cli = await startCli(["--port", "0", `${DIR}/listen_awaited.mjs`], {
      ...TIMEOUT,
      env: { APP_PORT: String(heldPort) },
    });
    try {
      const res = await fetch(`http://127.0.0.1:${cli.port}/`);
      assert.equal(await res.text(), "hello after the awaited listen");
      // The rest of the module ran once tsgi listened.
      const m = await stdoutMatch(cli, /app listening on port (\d+)/);
      assert.equal(Number(m[1]), cli.port);
      assert.doesNotMatch(cli.stderr(), /waiting up to|ERROR/);
    } finally {
      assert.equal(await stop(cli), 0, cli.stderr());
    }
  });

  test("a ws server attached to the listened server gets its upgrades", async () => {
    const cli = await startCli(["--port", "0", `${DIR}/ws_listen.mjs`], {
      ...TIMEOUT,
      env: { APP_PORT: String(heldPort) },
    });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/`);
      const reply = new Promise<string>((resolve, reject) => {
        ws.on("message", (data) => resolve(String(data)));
        ws.on("error", reject);
      });
      await new Promise((resolve, reject) => {
        ws.on("open", resolve);
        ws.on("error", reject);
      });
      ws.send("hi");
      assert.equal(await reply, "echo hi");
      ws.close();
      assert.equal(await (await fetch(`http://127.0.0.1:${cli.port}/`)).text(), "http here");
    } finally {
      assert.equal(await stop(cli), 0, cli.stderr());
    }
  });

  test("a module that exports an app and listens: the listened server is served", async () => {
    const cli = await startCli(["--port", "0", `${DIR}/export_and_listen.mjs`], {
      ...TIMEOUT,
      env: { APP_PORT: String(heldPort) },
    });
    try {
      assert.equal(await (await fetch(`http://127.0.0.1:${cli.port}/`)).text(), "the listened server");
      assert.match(cli.stderr(), /\(its export is not used\)/);
    } finally {
      assert.equal(await stop(cli), 0, cli.stderr());
    }
  });

  for (const [name, args, env] of [
    ["--no-listen-takeover", ["--no-listen-takeover"], {}],
    ["TSGI_LISTEN_TAKEOVER=0", [], { TSGI_LISTEN_TAKEOVER: "0" }],
  ] as const) {
    test(`${name}: the module binds itself and tsgi finds no exported app`, async () => {
      const result = await runCli(["--port", "0", ...args, `${DIR}/express_listen.cjs`], {
        ...TIMEOUT,
        env: { APP_PORT: "0", ...env },
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /^tsgi: error: module \S+express_listen\.cjs has no default export and no export named "app" \(listen\(\) takeover is off\)\n$/,
      );
      assert.doesNotMatch(result.stderr, /Listening on/);
      // The app's own listen(0) bound a real port (address() right after listen()).
      const m = /address right after listen\(\): \{[^}]*"port":(\d+)/.exec(result.stdout);
      assert.ok(m !== null, result.stdout);
      assert.notEqual(Number(m[1]), 0);
    });
  }

  test("the off switch lets a real bind fail on a taken port, as without tsgi", async () => {
    const result = await runCli(["--port", "0", "--no-listen-takeover", `${DIR}/express_listen.cjs`], {
      ...TIMEOUT,
      env: { APP_PORT: String(heldPort) },
    });
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stderr, /Listening on/);
  });

  test("neither an export nor a listen(): a clear error within --startup-timeout", async () => {
    const result = await runCli(["--port", "0", "--startup-timeout", "0.5", `${DIR}/no_app.mjs`], TIMEOUT);
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /tsgi: error: module \S+no_app\.mjs has no default export and no export named "app", and called no listen\(\) within 0\.5s \(--startup-timeout\)\n$/,
    );
  });

  test("an https.Server's listen() is refused, pointing at --ssl-certfile", async () => {
    const result = await runCli(["--port", "0", `${DIR}/https_listen.mjs`], {
      ...TIMEOUT,
      env: { APP_PORT: String(heldPort) },
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /tsgi: error: \S+https_listen\.mjs calls listen\(\) on an https\.Server/);
    assert.match(result.stderr, /--ssl-certfile/);
    assert.doesNotMatch(result.stderr, /EADDRINUSE|waiting up to/);
  });

  test("--workers 2: each worker takes over its own server", async () => {
    const cli = await startCli(["--port", "0", "--workers", "2", `${DIR}/express_listen.cjs`], {
      ...TIMEOUT,
      env: { APP_PORT: String(heldPort) },
    });
    try {
      for (let i = 0; i < 20; i++) {
        // A new connection each time, so the supervisor may hand it to either worker.
        const res = await fetch(`http://127.0.0.1:${cli.port}/`, { headers: { connection: "close" } });
        assert.equal(res.status, 200);
        assert.match(await res.text(), /^hello from express \d+$/);
      }
      // Both workers ran the app's callback, each seeing tsgi's port.
      await stdoutMatch(cli, /app listening on port \d+[\s\S]*app listening on port \d+/);
      const ports = [...cli.stdout().matchAll(/app listening on port (\d+)/g)].map((m) => Number(m[1]));
      assert.deepEqual(ports, [cli.port, cli.port]);
    } finally {
      assert.equal(await stop(cli), 0, cli.stderr());
    }
  });
});

describe("ListenTakeover in one process", () => {
  test("takes the first HTTP listen() (no bind), passes net servers through, restores listen()", async () => {
    const lines: string[] = [];
    const planned = { address: "127.0.0.1", family: "IPv4", port: 8123 };
    const takeover = new ListenTakeover("app.js", (line) => lines.push(line), planned);
    const plain = createServer();
    const taken = httpServer((_req, res) => res.end());
    let called = 0;
    takeover.install();
    try {
      // The port the test holds: a real bind would emit EADDRINUSE.
      taken.on("error", (err) => assert.fail(err));
      assert.equal(
        taken.listen(heldPort, () => called++),
        taken,
      );
      assert.deepEqual(taken.address(), planned);
      assert.equal(taken.listening, false);
      // A plain net server is not HTTP: it binds as usual even while installed.
      await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
      assert.equal(typeof (plain.address() as { port: number }).port, "number");
      await takeover.first;
      assert.equal(takeover.result(), taken);
    } finally {
      takeover.restore();
      plain.close();
    }
    assert.equal(called, 0, "the callback waits for tsgi to listen");
    // The listen callback waits for 'listening', which tsgi emits once it listens.
    taken.emit("listening");
    assert.equal(called, 1);
    let closed = false;
    taken.close(() => {
      closed = true;
    });
    assert.equal(closed, false, "close() does not stop tsgi: its callback waits for tsgi to stop");
    taken.emit("close");
    assert.equal(closed, true);
    assert.match(lines.join("\n"), /^$/);
    // Restored: a new HTTP server binds for real.
    const after = httpServer();
    await new Promise<void>((resolve) => after.listen(0, "127.0.0.1", resolve));
    assert.notEqual((after.address() as { port: number }).port, 0);
    await new Promise((resolve) => after.close(resolve));
  });
});
