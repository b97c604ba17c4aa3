/**
 * A real nginx (Debian's package) in front of tsgi started through the CLI,
 * on loopback, with the configurations docs/deploy.md shows
 * (docs/deploy/nginx.conf and nginx-stream.conf, only their addresses
 * changed). The client connects from 127.0.0.2 so that its address differs
 * from nginx's (127.0.0.1): the app must see 127.0.0.2 exactly when tsgi
 * trusts nginx, for plain HTTP and for a WebSocket, and through the PROXY
 * protocol with TLS passed through. Needs `nginx` (and its stream module);
 * .ci/run installs both.
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { ROOT } from "../helpers.ts";
import { NGINX, NGINX_STREAM, needs, OPENSSL } from "../needs.ts";
import {
  type Certificates,
  freePort,
  makeCertificates,
  startTsgi,
  type Tsgi,
  tempDir,
  WHOAMI,
} from "./support.ts";

const CLIENT_ADDRESS = "127.0.0.2";
const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

let dir: string;
let cleanup: () => void;
let certs: Certificates;
let nginxBuild = "";

const skipHttp = needs(NGINX, OPENSSL);
const skipStream = needs(NGINX_STREAM, OPENSSL);

before(() => {
  if (skipHttp !== false) return;
  // `nginx -V` prints its build options on stderr.
  const version = spawnSync("nginx", ["-V"], { encoding: "utf8" });
  if (version.error !== undefined) throw new Error(`nginx -V failed: ${version.error.message}`);
  nginxBuild = version.stderr;
  ({ dir, cleanup } = tempDir("tsgi-nginx-"));
  certs = makeCertificates(dir);
});
after(() => cleanup?.());

/**
 * A docs/deploy file with its two "test:" addresses replaced; each must be
 * found exactly once, so a change to the doc's config cannot go unnoticed.
 */
function fromDocs(file: string, upstream: string, listen: string): string {
  let text = readFileSync(join(ROOT, "docs/deploy", file), "utf8");
  const replace = (pattern: RegExp, value: string) => {
    const matches = text.match(new RegExp(pattern.source, "gm"));
    assert.equal(matches?.length, 1, `${file}: ${pattern} must match one line`);
    text = text.replace(new RegExp(pattern.source, "m"), value);
  };
  replace(/^(\s*server )\S+;(\s*# test: tsgi's address)$/, `$1${upstream};$2`);
  replace(/^(\s*listen )\S+;(\s*# test: nginx's address)$/, `$1${listen};$2`);
  return text;
}

/** Starts nginx in the foreground on a config around `site` (in http {}) or `stream` (top level). */
async function startNginx(
  name: string,
  body: { http?: string; stream?: string },
  port: number,
): Promise<ChildProcess> {
  const prefix = join(dir, name);
  mkdirSync(prefix, { recursive: true });
  const lines: string[] = [];
  if (process.getuid?.() === 0) lines.push("user root;"); // workers write the temp paths below
  if (body.stream !== undefined && !/--with-stream( |$)/m.test(nginxBuild)) {
    assert.ok(
      existsSync(STREAM_MODULE),
      "nginx's stream module is missing (apt-get install libnginx-mod-stream)",
    );
    lines.push(`load_module ${STREAM_MODULE};`);
  }
  lines.push("worker_processes 1;", `pid ${prefix}/nginx.pid;`, `error_log ${prefix}/error.log warn;`);
  lines.push("events { worker_connections 64; }");
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
    (t) => `${t}_temp_path ${prefix}/${t};`,
  );
  if (body.http !== undefined) {
    writeFileSync(join(prefix, "site.conf"), body.http);
    lines.push(`http { access_log off; ${temp.join(" ")} include ${prefix}/site.conf; }`);
  }
  if (body.stream !== undefined) {
    writeFileSync(join(prefix, "stream.conf"), body.stream);
    lines.push(`include ${prefix}/stream.conf;`);
  }
  writeFileSync(join(prefix, "nginx.conf"), `${lines.join("\n")}\n`);
  const child = spawn(
    "nginx",
    ["-p", prefix, "-e", `${prefix}/error.log`, "-c", `${prefix}/nginx.conf`, "-g", "daemon off;"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<never>((_, reject) =>
    child.on("exit", (code) => {
      const log = existsSync(`${prefix}/error.log`) ? readFileSync(`${prefix}/error.log`, "utf8") : "";
      reject(new Error(`nginx exited with ${code}:\n${stderr}\n${log}`));
    }),
  );
  exited.catch(() => {});
  // Ready once it accepts on its port.
  for (;;) {
    const open = await Promise.race([
      exited,
      new Promise<boolean>((resolve) => {
        const probe = connect(port, "127.0.0.1", () => {
          probe.destroy();
          resolve(true);
        });
        probe.on("error", () => resolve(false));
      }),
    ]);
    if (open) return child;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function stopNginx(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners("exit");
    child.on("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** GET / through nginx from {@link CLIENT_ADDRESS}; the whoami JSON. */
function get(port: number, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path: "/", localAddress: CLIENT_ADDRESS, headers, agent: false },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}: ${body}`));
          else resolve(JSON.parse(body) as Record<string, unknown>);
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** A WebSocket through nginx: the whoami JSON, then the echo of "hello". */
function webSocket(port: number): Promise<{ who: Record<string, unknown>; echo: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { localAddress: CLIENT_ADDRESS });
    const messages: string[] = [];
    ws.on("open", () => ws.send("hello"));
    ws.on("message", (data) => {
      messages.push(String(data));
      if (messages.length === 2) {
        ws.close();
        resolve({ who: JSON.parse(messages[0]!) as Record<string, unknown>, echo: messages[1]! });
      }
    });
    ws.on("error", reject);
  });
}

async function behindNginx(
  tsgiArgs: string[],
  run: (nginxPort: number, tsgi: Tsgi) => Promise<void>,
  name: string,
) {
  const tsgi = await startTsgi(["--port", "0", ...tsgiArgs, WHOAMI]);
  const upstream = new URL(tsgi.urls[0]!).host;
  const port = await freePort();
  const nginx = await startNginx(
    name,
    { http: fromDocs("nginx.conf", upstream, `127.0.0.1:${port}`) },
    port,
  ).catch(async (err) => {
    await tsgi.stop();
    throw err;
  });
  try {
    await run(port, tsgi);
  } finally {
    await stopNginx(nginx);
    assert.equal(await tsgi.stop(), 0);
  }
}

test("docs/deploy.md shows both nginx files exactly as the tests run them", () => {
  const doc = readFileSync(join(ROOT, "docs/deploy.md"), "utf8");
  for (const file of ["nginx.conf", "nginx-stream.conf"]) {
    const text = readFileSync(join(ROOT, "docs/deploy", file), "utf8");
    assert.ok(
      doc.includes(`\`\`\`nginx\n${text}\`\`\``),
      `docs/deploy.md must show docs/deploy/${file} verbatim`,
    );
  }
});

describe("nginx reverse proxy (docs/deploy/nginx.conf)", { skip: skipHttp }, () => {
  test("tsgi trusts nginx: the app sees the client's address, over HTTP and WebSocket", async () => {
    await behindNginx(
      ["--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"],
      async (port) => {
        const seen = await get(port);
        assert.deepEqual(seen.client, [CLIENT_ADDRESS, 0]);
        assert.equal(seen.scheme, "http");
        // A client that claims another address: nginx appends the real one,
        // and tsgi stops at the first untrusted address from the right.
        const spoofed = await get(port, { "X-Forwarded-For": "6.6.6.6" });
        assert.deepEqual(spoofed.client, [CLIENT_ADDRESS, 0]);
        const forwarded = await get(port, { Forwarded: "for=6.6.6.6" });
        assert.deepEqual(forwarded.client, [CLIENT_ADDRESS, 0]);
        const { who, echo } = await webSocket(port);
        assert.deepEqual(who.client, [CLIENT_ADDRESS, 0]);
        assert.equal(who.scheme, "ws");
        assert.equal(echo, "hello");
      },
      "trusted",
    );
  });

  test("tsgi does not trust nginx: the app sees nginx's address, over HTTP and WebSocket", async () => {
    await behindNginx(
      ["--proxy-headers", "--forwarded-allow-ips", "10.0.0.1"],
      async (port) => {
        const seen = await get(port, { "X-Forwarded-For": "6.6.6.6" });
        assert.equal((seen.client as [string, number])[0], "127.0.0.1");
        const { who, echo } = await webSocket(port);
        assert.equal((who.client as [string, number])[0], "127.0.0.1");
        assert.equal(echo, "hello");
      },
      "untrusted",
    );
  });
});

describe("nginx stream proxy with the PROXY protocol (docs/deploy/nginx-stream.conf)", {
  skip: skipStream,
}, () => {
  test("TLS passed through: the app sees the client's address and https", async () => {
    const tsgi = await startTsgi([
      "--port",
      "0",
      "--proxy-protocol",
      "--ssl-certfile",
      certs.certFile,
      "--ssl-keyfile",
      certs.keyFile,
      WHOAMI,
    ]);
    const upstream = new URL(tsgi.urls[0]!).host;
    const port = await freePort();
    let nginx: ChildProcess | null = null;
    try {
      nginx = await startNginx(
        "stream",
        { stream: fromDocs("nginx-stream.conf", upstream, `127.0.0.1:${port}`) },
        port,
      );
      const seen = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: "127.0.0.1",
            port,
            servername: "localhost",
            ca: certs.ca,
            path: "/",
            localAddress: CLIENT_ADDRESS,
            agent: false,
          },
          (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve(JSON.parse(body) as Record<string, unknown>));
          },
        );
        req.on("error", reject);
        req.end();
      });
      assert.equal((seen.client as [string, number])[0], CLIENT_ADDRESS);
      assert.equal(seen.scheme, "https");
    } finally {
      if (nginx !== null) await stopNginx(nginx);
      assert.equal(await tsgi.stop(), 0);
    }
  });
});
