/**
 * Scaling the chat out: a real `redis-server` (Debian's package; .ci/run
 * installs it) on a free loopback port with a temporary directory, two tsgi
 * instances of examples/chat started through the CLI with `REDIS_URL`, and a
 * message sent by a WebSocket client of one instance reaching a client of
 * the other. The instances are reached directly (no proxy in front).
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { waitFor } from "../workers/support.ts";
import { startTsgi, type Tsgi } from "./operations-support.ts";
import { freePort, tempDir } from "./support.ts";

const CHAT = "examples/chat/app.ts";

let redis: ChildProcess | null = null;
let redisUrl = "";
let cleanup = () => {};

before(async () => {
  const found = spawnSync("redis-server", ["--version"]);
  if (found.error !== undefined)
    throw new Error("redis-server is not installed (apt-get install redis-server)");
  const tmp = tempDir("tsgi-redis-");
  cleanup = tmp.cleanup;
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

after(() => {
  redis?.kill("SIGKILL");
  cleanup();
});

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

test("two chat instances share one room through Redis pub/sub", async () => {
  const instances: Tsgi[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      instances.push(
        await startTsgi(["--port", "0", "--no-access-log", CHAT], { env: { REDIS_URL: redisUrl } }),
      );
    }
    const [one, two] = instances as [Tsgi, Tsgi];
    const ada = await member(one.port, "ada");
    const bob = await member(two.port, "bob");
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
