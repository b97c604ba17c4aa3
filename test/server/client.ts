/**
 * A byte-level HTTP/1.1 client for the server tests: one persistent socket,
 * responses parsed with their real framing (Content-Length, chunked, or
 * delimited by close), so a test can send a second request on the same
 * connection and tell "closed" from "still open" exactly.
 */

import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import { Logger } from "../../src/server/log.ts";
import type { ServeOptions } from "../../src/server/options.ts";
import { type Handler, Server } from "../../src/server/server.ts";
import { Capture } from "../helpers.ts";

/** One parsed response (or a 1xx interim response, which has no body). */
export interface Response {
  status: number;
  reason: string;
  /** Header fields in order, as sent. */
  headers: [string, string][];
  /** The body after de-chunking. */
  body: Buffer;
  /** How the body was delimited. */
  framing: "none" | "length" | "chunked" | "close";
  /** Trailer fields of a chunked body. */
  trailers: [string, string][];
  /** Every byte of the response as received. */
  raw: Buffer;
}

/** Value of header `name` (case-insensitive); several fields are joined with ", "; undefined if absent. */
export function header(res: Response, name: string): string | undefined {
  const lower = name.toLowerCase();
  const values = res.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(", ");
}

/** The response as text, for assertion messages. */
export function show(res: Response): string {
  return res.raw.toString("latin1");
}

const NEED_MORE = null;

/**
 * Parses one response from the front of `buf`. Returns it and the bytes it
 * used, or null when more bytes are needed. `head` says the request was HEAD;
 * `ended` that the server closed (which completes a close-delimited body).
 */
export function parseResponse(
  buf: Buffer,
  { head = false, ended = false } = {},
): { response: Response; used: number } | null {
  const headEnd = buf.indexOf("\r\n\r\n");
  if (headEnd === -1) return NEED_MORE;
  const lines = buf.toString("latin1", 0, headEnd).split("\r\n");
  const m = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(lines[0]!);
  if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const status = Number(m[1]);
  const headers: [string, string][] = lines.slice(1).map((line) => {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  let pos = headEnd + 4;
  const res: Response = {
    status,
    reason: m[2]!,
    headers,
    body: Buffer.alloc(0),
    framing: "none",
    trailers: [],
    raw: Buffer.alloc(0),
  };
  const done = (end: number) => {
    res.raw = Buffer.from(buf.subarray(0, end));
    return { response: res, used: end };
  };
  if (status < 200 || head || status === 204 || status === 304) return done(pos);
  const te = header(res, "transfer-encoding");
  const cl = header(res, "content-length");
  if (te !== undefined) {
    assert.equal(te.toLowerCase(), "chunked", "only chunked is expected from the server");
    res.framing = "chunked";
    const parts: Buffer[] = [];
    for (;;) {
      const lf = buf.indexOf("\r\n", pos);
      if (lf === -1) return NEED_MORE;
      const sizeText = buf.toString("latin1", pos, lf);
      assert.match(sizeText, /^[0-9a-f]+$/, "server chunk-size line");
      const size = Number.parseInt(sizeText, 16);
      if (size === 0) {
        pos = lf + 2;
        for (;;) {
          const end = buf.indexOf("\r\n", pos);
          if (end === -1) return NEED_MORE;
          if (end === pos) {
            res.body = Buffer.concat(parts);
            return done(end + 2);
          }
          const line = buf.toString("latin1", pos, end);
          const colon = line.indexOf(":");
          res.trailers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
          pos = end + 2;
        }
      }
      if (buf.length < lf + 2 + size + 2) return NEED_MORE;
      parts.push(buf.subarray(lf + 2, lf + 2 + size));
      assert.equal(buf.toString("latin1", lf + 2 + size, lf + 4 + size), "\r\n", "CRLF after chunk data");
      pos = lf + 4 + size;
    }
  }
  if (cl !== undefined) {
    res.framing = "length";
    const n = Number(cl);
    if (buf.length < pos + n) return NEED_MORE;
    res.body = Buffer.from(buf.subarray(pos, pos + n));
    return done(pos + n);
  }
  res.framing = "close";
  if (!ended) return NEED_MORE;
  res.body = Buffer.from(buf.subarray(pos));
  return done(buf.length);
}

/** A client connection that reads responses one at a time. */
export class Client {
  /** Bytes received and not yet consumed by a read. */
  buf: Buffer = Buffer.alloc(0);
  /** The server closed the connection (FIN or reset). */
  ended = false;
  /** The connection was reset rather than closed. */
  reset = false;
  private wake: (() => void) | null = null;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.notify();
    });
    socket.on("end", () => {
      this.ended = true;
      this.notify();
    });
    socket.on("close", () => {
      this.ended = true;
      this.notify();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNRESET" || err.code === "EPIPE") this.reset = true;
      this.ended = true;
      this.notify();
    });
  }

  /** Connects to 127.0.0.1:`port`. */
  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.off("error", reject);
        resolve(new Client(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Writes bytes (a string is latin-1). */
  send(bytes: string | Uint8Array): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  }

  /** Writes `bytes` one byte per socket write, letting the event loop turn between them. */
  async sendBytewise(bytes: string | Uint8Array): Promise<void> {
    const all = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : Buffer.from(bytes);
    for (let i = 0; i < all.length; i++) {
      await new Promise<void>((resolve) => this.socket.write(all.subarray(i, i + 1), () => resolve()));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Resolves once `check()` returns non-undefined, or rejects after `timeoutMs`. */
  async until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.text()}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Reads the next response (an interim 1xx is returned on its own). */
  read({ head = false, timeoutMs = 3000 } = {}): Promise<Response> {
    return this.until(
      () => {
        const parsed = parseResponse(this.buf, { head, ended: this.ended });
        if (parsed === null) {
          if (this.ended) throw new Error(`connection closed before a complete response: ${this.text()}`);
          return undefined;
        }
        this.buf = this.buf.subarray(parsed.used);
        return parsed.response;
      },
      timeoutMs,
      "a response",
    );
  }

  /** True if the server closes the connection within `timeoutMs`. */
  async closedWithin(timeoutMs = 2000): Promise<boolean> {
    try {
      await this.until(() => (this.ended ? true : undefined), timeoutMs, "close");
      return true;
    } catch {
      return false;
    }
  }

  /** Waits `ms` and returns the bytes that arrived meanwhile (not consumed). */
  async quietFor(ms: number): Promise<string> {
    await sleep(ms);
    return this.text();
  }

  /** Unconsumed bytes as latin-1. */
  text(): string {
    return this.buf.toString("latin1");
  }

  destroy(): void {
    this.socket.destroy();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A plain keep-alive GET on host "t". */
export function get(path = "/", extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
}

/**
 * Proves the connection still carries requests: sends a GET for `path` and
 * expects a 200 whose body is what `echoApp` answers for it.
 */
export async function assertStillOpen(client: Client, path = "/again"): Promise<void> {
  assert.equal(client.ended, false, "connection was closed");
  client.send(get(path));
  const res = await client.read();
  assert.equal(res.status, 200, show(res));
  assert.equal(JSON.parse(res.body.toString()).path, path);
}

/** Expects the server to close the connection with no further response. */
export async function assertClosed(client: Client, timeoutMs = 2000): Promise<void> {
  assert.equal(await client.closedWithin(timeoutMs), true, "connection was not closed");
  assert.equal(client.text(), "", "no bytes after the last response");
}

/** What {@link echoApp} answers, parsed. */
export interface Echo {
  method: string;
  path: string;
  query: string;
  protocol: string;
  body: string;
  contentLength: string | null;
  trailers: [string, string][];
}

/** Echoes the request (body as latin-1) as JSON, with a Content-Length. */
export function echoApp(environ: Environ, startResponse: StartResponse): string[] {
  const body = Buffer.from(environ["wsgi.input"].read()).toString("latin1");
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  const echo: Echo = {
    method: environ.REQUEST_METHOD,
    path: environ.PATH_INFO,
    query: environ.QUERY_STRING,
    protocol: environ.SERVER_PROTOCOL,
    body,
    contentLength: environ.CONTENT_LENGTH ?? null,
    trailers: environ["tsgi.trailers"],
  };
  return [JSON.stringify(echo)];
}

export function echoOf(res: Response): Echo {
  return JSON.parse(res.body.toString("utf8")) as Echo;
}

/** Starts a {@link Server} with a raw exchange handler on 127.0.0.1:0, logs captured. */
export async function startRaw(
  handler: Handler,
  options: ServeOptions = {},
): Promise<{ server: Server; port: number; errors: Capture; access: Capture }> {
  const errors = new Capture();
  const access = new Capture();
  const logger = new Logger(
    options.logLevel ?? "info",
    errors as unknown as NodeJS.WritableStream,
    access as unknown as NodeJS.WritableStream,
  );
  const server = new Server(handler, { host: "127.0.0.1", port: 0, ...options }, logger);
  await server.listen();
  return { server, port: server.address.port, errors, access };
}

/** Clients opened by a test file, destroyed together when the tests are done with them. */
export class ClientPool {
  private readonly clients: Client[] = [];

  /** Opens a client on `port` and keeps it for {@link destroyAll}. */
  async open(port: number): Promise<Client> {
    const client = await Client.open(port);
    this.clients.push(client);
    return client;
  }

  destroyAll(): void {
    for (const client of this.clients.splice(0)) client.destroy();
  }
}
