/**
 * Node's own HTTP parser (llhttp, strict: `insecureHTTPParser: false`) as a
 * reference for the differential fuzzer. It runs through the public
 * `node:http` server fed by an in-memory socket (a Duplex emitted as a
 * 'connection'), not through internal bindings, so it behaves the same on
 * every Node version the project supports and exactly as a Node server would.
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Duplex } from "node:stream";
import type { Request } from "./differential.ts";

/** One request as Node reported it; `complete` once its body ended. */
export interface NodeRequest extends Request {
  /** Node's verdict on keeping the connection open after it. */
  keepAlive: boolean;
  upgrade: boolean;
}

/** What Node made of an input: its requests, and the parse error that stopped it, if any. */
export interface NodeResult {
  requests: NodeRequest[];
  /** llhttp's error code (HPE_...), MISSING_HOST for Node's own Host check, or null. */
  error: string | null;
  /** How many requests Node had reported when the error came. */
  errorAt: number | null;
}

/** In-memory socket: what is pushed is what the server reads; what it writes is dropped. */
class MemorySocket extends Duplex {
  remoteAddress = "127.0.0.1";
  remotePort = 1;
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    callback();
  }
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

const server = createServer({
  insecureHTTPParser: false,
  requireHostHeader: false,
  maxHeaderSize: 16 * 1024,
});
server.setMaxListeners(0);

let current: { result: NodeResult; socket: MemorySocket } | null = null;

server.on("request", (req: IncomingMessage, res: ServerResponse) => {
  if (current === null || (req.socket as unknown) !== current.socket) return;
  // Node's own Host check (requireHostHeader) answers 400 without a
  // 'clientError'; it is turned off and done here so the refusal is seen.
  if (req.httpVersionMinor === 1 && req.headers.host === undefined) {
    if (current.result.error === null) {
      current.result.error = "MISSING_HOST";
      current.result.errorAt = current.result.requests.length;
    }
    return;
  }
  const seen: NodeRequest = {
    method: req.method ?? "",
    target: req.url ?? "",
    // 9 for the HTTP/0.9 request line (no version) that llhttp accepts.
    version: req.httpVersionMajor * 10 + req.httpVersionMinor,
    headers: req.rawHeaders,
    body: "",
    trailers: [],
    complete: false,
    keepAlive: res.shouldKeepAlive,
    upgrade: (req as IncomingMessage & { upgrade?: boolean }).upgrade === true,
  };
  current.result.requests.push(seen);
  req.on("data", (chunk: Buffer) => {
    seen.body += chunk.toString("latin1");
  });
  req.on("end", () => {
    seen.complete = true;
    seen.trailers = req.rawTrailers;
    res.end("ok");
  });
});

server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
  if (current !== null && socket === current.socket) {
    if (current.result.error === null) {
      current.result.error = err.code ?? "ERROR";
      current.result.errorAt = current.result.requests.length;
    }
    // Not destroyed yet: the requests parsed before the error still deliver their bodies.
    return;
  }
  socket.destroy();
});

/** Turns of the event loop allowed for Node to deliver everything (bodies arrive on later ticks). */
const SETTLE_TURNS = 4;

/** Feeds `input` to a fresh connection of Node's HTTP server; resolves once it settled. */
export async function parseWithNode(input: Uint8Array): Promise<NodeResult> {
  const socket = new MemorySocket();
  const result: NodeResult = { requests: [], error: null, errorAt: null };
  current = { result, socket };
  server.emit("connection", socket);
  socket.push(Buffer.from(input));
  for (let i = 0; i < SETTLE_TURNS; i++) await new Promise((r) => setImmediate(r));
  current = null;
  socket.destroy();
  return result;
}
