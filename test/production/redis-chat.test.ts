/**
 * Scaling the chat out: a real `redis-server` (Debian's package; .ci/run
 * installs it) on a free loopback port with a temporary directory, two tsgi
 * instances of examples/chat started through the CLI with `REDIS_URL`, and
 * a real nginx in front of them running docs/deploy/nginx.conf with both
 * instances in its upstream. Two WebSocket clients through nginx land on
 * different instances (each instance's access log shows one upgrade), and a
 * message sent by one reaches the other through Redis.
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { ROOT } from "../helpers.ts";
import { NGINX, needs, REDIS } from "../needs.ts";
import { waitFor } from "../workers/support.ts";
import { startTsgi, type Tsgi } from "./operations-support.ts";
import { freePort, tempDir } from "./support.ts";

const CHAT = "examples/chat/app.ts";

let redis: ChildProcess | null = null;
let nginx: ChildProcess | null = null;
let redisUrl = "";
let dir = "";
let cleanup = () => {};

const skip = needs(REDIS, NGINX);

before(async () => {
  if (skip !== false) return;
  const tmp = tempDir("tsgi-redis-");
  cleanup = tmp.cleanup;
  dir = tmp.dir;
  const port = await freePort();
  // No persistence, loopback only: a throwaway server for this test.
  redis = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", tmp.dir, "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  redis.stdout!.on("data", (d) => (log += d));
  redis.stderr!.on("data", (d) => (log += d));
  await waitFor(
    () => /Ready to accept connections/.test(log) || redis!.exitCode !== null,
    "redis-server",
    10_000,
  );
  if (redis.exitCode !== null) throw new Error(`redis-server exited:\n${log}`);
  redisUrl = `redis://127.0.0.1:${port}`;
});

after(async () => {
  redis?.kill("SIGKILL");
  // SIGTERM, not SIGKILL: nginx's master stops its workers on TERM; killed
  // outright, it leaves them running as orphans.
  if (nginx !== null && nginx !== undefined && nginx.exitCode === null && nginx.signalCode === null) {
    const exited = new Promise((resolve) => nginx!.once("exit", resolve));
    nginx.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (nginx.exitCode === null && nginx.signalCode === null) nginx.kill("SIGKILL");
  }
  cleanup();
});

/**
 * Runs nginx in the foreground with docs/deploy/nginx.conf, its upstream
 * line replaced by one line per instance and its listen line by `port`.
 */
async function startNginx(port: number, upstreams: number[]): Promise<ChildProcess> {
  let site = readFileSync(join(ROOT, "docs/deploy/nginx.conf"), "utf8");
  const upstream = /^(\s*)server \S+;\s*# test: tsgi's address$/m;
  const listen = /^(\s*)listen \S+;\s*# test: nginx's address$/m;
  assert.match(site, upstream);
  assert.match(site, listen);
  site = site
    .replace(upstream, upstreams.map((p) => `$1server 127.0.0.1:${p};`).join("\n"))
    .replace(listen, `$1listen 127.0.0.1:${port};`);
  const prefix = join(dir, "nginx");
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, "site.conf"), site);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
    (t) => `${t}_temp_path ${prefix}/${t};`,
  );
  const conf = [
    // As root, nginx's workers would run as nobody and could not write the temp paths.
    ...(process.getuid?.() === 0 ? ["user root;"] : []),
    "worker_processes 1;",
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/error.log warn;`,
    "events { worker_connections 64; }",
    `http { access_log off; ${temp.join(" ")} include ${prefix}/site.conf; }`,
  ];
  writeFileSync(join(prefix, "nginx.conf"), `${conf.join("\n")}\n`);
  const child = spawn(
    "nginx",
    ["-p", prefix, "-e", `${prefix}/error.log`, "-c", `${prefix}/nginx.conf`, "-g", "daemon off;"],
    { stdio: "ignore" },
  );
  let accepting = false;
  let probing = false;
  await waitFor(
    () => {
      if (child.exitCode !== null) {
        const log = existsSync(`${prefix}/error.log`) ? readFileSync(`${prefix}/error.log`, "utf8") : "";
        throw new Error(`nginx exited with ${child.exitCode}:\n${log}`);
      }
      if (!accepting && !probing) {
        probing = true;
        const socket = connect(port, "127.0.0.1", () => {
          accepting = true;
          socket.destroy();
        });
        socket.on("error", () => {});
        socket.on("close", () => (probing = false));
      }
      return accepting;
    },
    "nginx to accept",
    10_000,
  );
  return child;
}

/** A chat member: its socket and every event it received, parsed. */
async function member(port: number, name: string) {
  const events: { type: string; name: string; text?: string }[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?name=${name}`);
  ws.on("message", (data) => events.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, events };
}

test("two chat instances behind nginx share one room through Redis pub/sub", { skip }, async () => {
  const instances: Tsgi[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      instances.push(
        await startTsgi(["--port", "0", "--proxy-headers", CHAT], { env: { REDIS_URL: redisUrl } }),
      );
    }
    const [one, two] = instances as [Tsgi, Tsgi];
    const front = await freePort();
    nginx = await startNginx(front, [one.port, two.port]);
    const ada = await member(front, "ada");
    const bob = await member(front, "bob");
    // nginx's round-robin put each client on its own instance: one upgrade (101) in each access log.
    const upgrades = (t: Tsgi) =>
      t
        .stdout()
        .split("\n")
        .filter((l) => /"GET \/ws\?name=\w+ HTTP\/1\.1" 101 /.test(l));
    await waitFor(() => upgrades(one).length + upgrades(two).length === 2, "both upgrades logged");
    assert.equal(upgrades(one).length, 1, one.stdout());
    assert.equal(upgrades(two).length, 1, two.stdout());
    // Bob, on the other instance, sees Ada's words; Ada sees Bob join.
    await waitFor(() => ada.events.some((e) => e.type === "join" && e.name === "bob"), "ada to see bob join");
    ada.ws.send("hello from instance one");
    await waitFor(
      () => bob.events.some((e) => e.type === "message" && e.text === "hello from instance one"),
      "bob to get ada's message through redis",
    );
    bob.ws.send("and back");
    await waitFor(
      () => ada.events.some((e) => e.type === "message" && e.name === "bob" && e.text === "and back"),
      "ada to get bob's reply",
    );
    assert.deepEqual(
      bob.events.filter((e) => e.type === "message"),
      [
        { type: "message", name: "ada", text: "hello from instance one" },
        { type: "message", name: "bob", text: "and back" },
      ],
    );
    ada.ws.close();
    bob.ws.close();
  } finally {
    for (const tsgi of instances) tsgi.kill();
  }
});
