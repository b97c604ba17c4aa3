/**
 * `tsgi/node/register`, the preload, as a user runs it: `node --import
 * tsgi/node/register program.mjs` (resolved through the package's own name)
 * on a program that makes its own node:http and node:https servers. The
 * answers come from tsgi (its Server header, its 400 for a Host that
 * node:http accepts); listen, address and close work. The same program
 * without the preload is the control: node:http answers it.
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:https";
import { describe, test } from "node:test";
import { ROOT, rawRequest } from "../helpers.ts";

const PROGRAM = "test/fixtures/apps/register/servers.mjs";

interface Program {
  child: ChildProcess;
  ports: { plain: number; secure: number; listening: boolean };
  stdout: () => string;
  exited: Promise<number | null>;
}

/** Runs the program (with `nodeArgs` before it) until it prints its ports. */
function runProgram(nodeArgs: string[]): Promise<Program> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, PROGRAM], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the program printed no ports:\n${out}\n${err}`));
    }, 30_000);
    child.stderr!.on("data", (d) => (err += d));
    child.stdout!.on("data", (d) => {
      out += d;
      const line = /^\{.*\}$/m.exec(out);
      if (line !== null) {
        clearTimeout(timer);
        resolve({ child, ports: JSON.parse(line[0]), stdout: () => out, exited });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the program exited with ${code}:\n${out}\n${err}`));
    });
  });
}

/** GET / over HTTPS (the fixture's certificate is self-signed): the Server header and body. */
function httpsGet(port: number): Promise<{ server: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/", rejectUnauthorized: false, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ server: res.headers.server as string | undefined, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** node:http accepts an absolute-form Host value; tsgi's parser refuses it (RFC 9112 §3.2). */
const ODD_HOST = "GET / HTTP/1.1\r\nHost: http://example.com\r\nConnection: close\r\n\r\n";

describe("tsgi/node/register", () => {
  test("node --import tsgi/node/register: the program's servers are tsgi's", async () => {
    const program = await runProgram(["--import", "tsgi/node/register"]);
    try {
      const { plain, secure, listening } = program.ports;
      assert.equal(listening, true);
      const res = await fetch(`http://127.0.0.1:${plain}/x`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("server"), "tsgi");
      assert.equal(await res.text(), "hello /x\n");
      const odd = await rawRequest(plain, ODD_HOST, { timeoutMs: 5000 });
      assert.match(odd.text, /^HTTP\/1\.1 400 /);
      const tls = await httpsGet(secure);
      assert.equal(tls.body, "secure\n");
      assert.equal(tls.server, "tsgi");
    } finally {
      program.child.kill("SIGTERM");
    }
    assert.equal(await program.exited, 0);
    assert.match(program.stdout(), /^closed$/m);
    assert.doesNotMatch(program.stdout(), /close failed/);
  });

  test("control: without the preload node:http answers (and accepts that Host)", async () => {
    const program = await runProgram([]);
    try {
      const res = await fetch(`http://127.0.0.1:${program.ports.plain}/x`);
      assert.equal(res.headers.get("server"), null);
      await res.text();
      const odd = await rawRequest(program.ports.plain, ODD_HOST, { timeoutMs: 5000 });
      assert.match(odd.text, /^HTTP\/1\.1 200 /);
      assert.equal((await httpsGet(program.ports.secure)).server, undefined);
    } finally {
      program.child.kill("SIGTERM");
    }
    assert.equal(await program.exited, 0);
  });
});
