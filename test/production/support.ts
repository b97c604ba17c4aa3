/**
 * Helpers of the production tests: certificates made with the `openssl`
 * command for each run (a CA, a server certificate for localhost and
 * 127.0.0.1, a client certificate, an encrypted copy of the server key),
 * the built CLI started with any listen options and every "Listening on"
 * line it prints, and free loopback ports.
 */

import { type ChildProcess, execFileSync, type StdioOptions, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "../../src/server/log.ts";
import { Capture, CLI, ROOT } from "../helpers.ts";

/** The whoami fixture: JSON of the client, scheme, host and server the app was told about. */
export const WHOAMI = join(ROOT, "test/fixtures/apps/whoami.js");

/** A logger that keeps everything to itself, for servers whose logs a test does not read. */
export const quiet = (): Logger =>
  new Logger(
    "critical",
    new Capture() as unknown as NodeJS.WritableStream,
    new Capture() as unknown as NodeJS.WritableStream,
  );

/** A fresh temporary directory, removed by `cleanup()`. */
export function tempDir(prefix = "tsgi-prod-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** PEM files (paths) and contents for one test run. */
export interface Certificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The server key encrypted with {@link KEY_PASSWORD}. */
  encryptedKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
}

export const KEY_PASSWORD = "correct horse";

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Makes a CA and certificates it signed, with the `openssl` command (Node
 * cannot create X.509 certificates). P-256 keys: generated in milliseconds.
 */
export function makeCertificates(dir: string): Certificates {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=tsgi test CA",
  ]);
  writeFileSync(
    join(dir, "server.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n",
  );
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const who of ["server", "client"]) {
    openssl(dir, [
      "req",
      ...ec,
      "-keyout",
      `${who}.key`,
      "-out",
      `${who}.csr`,
      "-subj",
      `/CN=${who === "server" ? "localhost" : "tsgi test client"}`,
    ]);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${who}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${who}.pem`,
      "-days",
      "2",
      "-extfile",
      `${who}.ext`,
    ]);
  }
  openssl(dir, [
    "pkey",
    "-in",
    "server.key",
    "-aes256",
    "-passout",
    `pass:${KEY_PASSWORD}`,
    "-out",
    "server-encrypted.key",
  ]);
  const file = (name: string) => join(dir, name);
  return {
    dir,
    caFile: file("ca.pem"),
    certFile: file("server.pem"),
    keyFile: file("server.key"),
    encryptedKeyFile: file("server-encrypted.key"),
    clientCertFile: file("client.pem"),
    clientKeyFile: file("client.key"),
    ca: readFileSync(file("ca.pem")),
    cert: readFileSync(file("server.pem")),
    key: readFileSync(file("server.key")),
    clientCert: readFileSync(file("client.pem")),
    clientKey: readFileSync(file("client.key")),
  };
}

/** A running CLI and the URLs of its "Listening on" lines, in order. */
export interface Tsgi {
  child: ChildProcess;
  urls: string[];
  stderr: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop: () => Promise<number | null>;
}

/**
 * Starts the built CLI and waits for its readiness line; every "Listening
 * on" line comes in the same write, so they are all read by then.
 */
export function startTsgi(
  args: string[],
  {
    env = process.env,
    stdio = ["ignore", "pipe", "pipe"] as StdioOptions,
    systemd = false,
    timeoutMs = 15_000,
  } = {},
): Promise<Tsgi> {
  return new Promise((resolve, reject) => {
    // systemd sets LISTEN_PID to the pid of the process it execs; a shell
    // that sets it to its own pid ($$) and then execs node does the same.
    const child = systemd
      ? spawn("sh", ["-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', process.execPath, CLI, ...args], {
          cwd: ROOT,
          env,
          stdio,
        })
      : spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio });
    let err = "";
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tsgi did not become ready:\n${err}`));
    }, timeoutMs);
    child.stdout?.resume();
    child.stderr!.on("data", (d) => {
      err += d;
      if (!err.includes("(press CTRL+C to quit)\n")) return;
      clearTimeout(timer);
      const urls = [...err.matchAll(/Listening on (\S+)/g)].map((m) => m[1]!);
      resolve({
        child,
        urls,
        stderr: () => err,
        stop: () => {
          if (child.exitCode === null) child.kill("SIGTERM");
          return exited;
        },
      });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tsgi exited with ${code} before it was ready:\n${err}`));
    });
  });
}

/** A port free on `host` right now (bound, read, closed). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen({ host, port: 0 }, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** True if this machine can bind the IPv6 loopback (some containers cannot). */
export function ipv6Loopback(): Promise<boolean> {
  return freePort("::1").then(
    () => true,
    () => false,
  );
}

const PROXY_V2_SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

/** A v2 header: version/command byte, family/transport byte, then the address block and TLVs. */
export function v2(command: number, familyTransport: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = familyTransport;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, head, body]);
}

export function inet4(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src.split(".").map(Number)).copy(b, 0);
  Buffer.from(dst.split(".").map(Number)).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}
