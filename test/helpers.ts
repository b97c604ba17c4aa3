/**
 * Shared test helpers: start a server on port 0, talk to it over raw sockets
 * (byte-exact), and run the built CLI as a child process.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { type ServeAppOptions, serve } from "../src/serve.ts";
import { Logger } from "../src/server/log.ts";
import type { Server } from "../src/server/server.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

/** A writable that keeps what is written, to assert on logs. */
export class Capture {
  text = "";
  write(chunk: string | Uint8Array): boolean {
    this.text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  }
}

/** Starts `app` on 127.0.0.1:0 with logs captured; call `server.close()` when done. */
export async function startServer(
  app: unknown,
  options: ServeAppOptions = {},
): Promise<{ server: Server; port: number; url: string; errors: Capture; access: Capture }> {
  const errors = new Capture();
  const access = new Capture();
  const logger =
    options.logger ??
    new Logger(
      options.logLevel ?? "info",
      errors as unknown as NodeJS.WritableStream,
      access as unknown as NodeJS.WritableStream,
    );
  const server = await serve(app, { host: "127.0.0.1", port: 0, ...options, logger });
  return { server, port: server.address.port, url: server.url, errors, access };
}

/** Result of a raw exchange: every byte received and whether the server closed the connection. */
export interface RawResult {
  data: Buffer;
  text: string;
  /** The server closed (FIN or reset) before `timeoutMs`. */
  closed: boolean;
}

/**
 * Sends `bytes` (a string is latin-1) on a fresh connection and collects the
 * answer until the server closes or `timeoutMs` of silence passes.
 */
export function rawRequest(
  port: number,
  bytes: string | Uint8Array | (string | Uint8Array)[],
  { timeoutMs = 500, endAfterWrite = false } = {},
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      resolve({ data, text: data.toString("latin1"), closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), timeoutMs);
    };
    socket.on("connect", () => {
      const parts = Array.isArray(bytes) ? bytes : [bytes];
      for (const part of parts) socket.write(typeof part === "string" ? Buffer.from(part, "latin1") : part);
      if (endAfterWrite) socket.end();
      arm();
    });
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      arm();
    });
    socket.on("close", () => finish(true));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNRESET" || err.code === "EPIPE") return; // reported as closed
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Opens a connection and returns it with a helper that waits for `n` more bytes or a pattern. */
export async function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Status codes of every response in a raw byte stream, in order. */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** A running `tsgi` CLI process and the port it announced. */
export interface CliProcess {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Runs the built CLI and waits for its "Listening on http://HOST:PORT" line. */
export function startCli(
  args: string[],
  {
    cwd = ROOT,
    timeoutMs = 10_000,
    nodeArgs = [] as string[],
    env = undefined as NodeJS.ProcessEnv | undefined,
  } = {},
): Promise<CliProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      ...(env === undefined ? {} : { env: { ...process.env, ...env } }),
    });
    let out = "";
    let err = "";
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`CLI did not become ready:\n${err}`));
    }, timeoutMs);
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /Listening on http:\/\/[^\s]+:(\d+)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), stdout: () => out, stderr: () => err, exited });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`CLI exited with ${code} before it was ready:\n${err}`));
    });
  });
}

/** Runs the built CLI to completion (for commands expected to fail fast); `env` adds to the environment. */
export function runCli(
  args: string[],
  { cwd = ROOT, timeoutMs = 10_000, env = {} as NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    // "close", not "exit": the exit can be reported before the pipes have
    // delivered the last of stderr (a one-line error then read as empty).
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
