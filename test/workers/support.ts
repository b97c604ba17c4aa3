/**
 * Helpers for the --workers and --threads tests: a one-request-per-connection
 * HTTP client (so a failure belongs to exactly one request), a steady load of
 * such clients, and polling.
 */

import { connect } from "node:net";

/** One finished request. */
export interface Outcome {
  ok: boolean;
  status: number;
  body: string;
  error: string;
  /** Date.now() when it was sent and when it finished. */
  start: number;
  end: number;
}

/**
 * GET (or POST with `body`) `path` on a new connection with `Connection: close`
 * and reads the whole response. Never rejects: failures are outcomes.
 */
export function request(
  port: number,
  path: string,
  { timeoutMs = 5000, body }: { timeoutMs?: number; body?: Uint8Array } = {},
): Promise<Outcome> {
  const start = Date.now();
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      const split = data.indexOf("\r\n\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data.toString("latin1", 0, 12))?.[1] ?? 0);
      const ok = error === "" && status === 200;
      const head = split === -1 ? "" : data.toString("latin1", 0, split + 2);
      let payload: Buffer = split === -1 ? Buffer.alloc(0) : data.subarray(split + 4);
      if (/\r\ntransfer-encoding: chunked\r\n/i.test(head)) payload = dechunk(payload);
      resolve({ ok, status, body: payload.toString("latin1"), error, start, end: Date.now() });
    };
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    socket.on("connect", () => {
      const head =
        body === undefined
          ? `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`
          : `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      socket.write(head);
      if (body !== undefined) socket.write(body);
    });
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("end", () => {
      // A response cut short (no complete body) is a failure even if the status line arrived.
      const data = Buffer.concat(chunks);
      const m = /\r\ncontent-length: (\d+)\r\n/i.exec(data.toString("latin1"));
      const split = data.indexOf("\r\n\r\n");
      const chunked = /\r\ntransfer-encoding: chunked\r\n/i.test(data.toString("latin1", 0, split + 2));
      const complete =
        split !== -1 &&
        (chunked
          ? data.subarray(-5).toString() === "0\r\n\r\n"
          : m === null || data.length - split - 4 === Number(m[1]));
      finish(complete ? "" : "incomplete response");
    });
    socket.on("error", (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
  });
}

/** The payload of a chunked body (no extensions or trailers: the server sends none). */
function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", pos);
    const size = Number.parseInt(data.toString("latin1", pos, lineEnd), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    pos = lineEnd + 2 + size + 2;
  }
}

/**
 * `clients` loops each sending one request after another until stopped (or
 * for 30 s at most, so a failing test cannot leave it running).
 */
export class Load {
  readonly outcomes: Outcome[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(port: number, path: string, clients: number, timeoutMs = 5000) {
    const deadline = Date.now() + 30_000;
    this.loops = Array.from({ length: clients }, async () => {
      while (this.running && Date.now() < deadline) {
        const outcome = await request(port, path, { timeoutMs });
        this.outcomes.push(outcome);
        // A refused connection fails at once: do not spin.
        if (!outcome.ok) await new Promise((r) => setTimeout(r, 10));
      }
    });
  }

  /** Stops sending and waits for the requests in flight. */
  async stop(): Promise<Outcome[]> {
    this.running = false;
    await Promise.all(this.loops);
    return this.outcomes;
  }
}

/** Resolves once `predicate` holds, polling every 20 ms; rejects after `ms`. */
export async function waitFor(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pid in a fetch_pid.js response body ("v1 1234"). */
export function pidOf(outcome: Outcome): number {
  return Number(outcome.body.split(" ")[1]);
}

export const FIXTURES = "test/fixtures/apps/workers";
