/**
 * The Request a Fetch app receives, made on demand for the web-platform
 * tests: a `Request` constructor whose instances are the requests the
 * gateway hands apps. Each `new Request(input, init)` is first built by the
 * gateway's `Request` (so the standard's validation and errors are the
 * real ones, and a received request as `input` takes the gateway's path),
 * then written as HTTP/1.1 bytes into a real HttpConnection on a stand-in
 * socket, and what the Fetch gateway passes to the handler is returned. Its
 * body, if any, follows chunked, as the source stream yields it.
 */

import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { fetchGateway } from "../../src/gateways/fetch/gateway.ts";
import { gatewayRequest, NativeRequest as nativeRequest } from "../../src/gateways/fetch/request.ts";
import { HttpConnection } from "../../src/server/connection.ts";
import { Logger } from "../../src/server/log.ts";
import { resolveOptions } from "../../src/server/options.ts";

const NativeRequest = nativeRequest();
const GatewayRequest = gatewayRequest();

/** Just enough of net.Socket for HttpConnection: writes are dropped, `emit("data")` is a read. */
class StandInSocket extends EventEmitter {
  remoteAddress = "127.0.0.1";
  remotePort = 40000;
  localAddress = "127.0.0.1";
  localPort = 8000;
  writableNeedDrain = false;
  writableLength = 0;
  destroyed = false;
  readableEnded = false;
  write(): boolean {
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

let received: Request | null = null;
const host = {
  // No deadlines: a test may hold a request as long as it likes.
  options: resolveOptions({
    accessLog: false,
    headerTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: 0,
    sendTimeout: 0,
  }),
  logger: new Logger("error"),
  handler: fetchGateway((request) => {
    received = request;
    return new Promise<Response>(() => {}); // the exchange stays open while the test uses the request
  }),
  shuttingDown: false,
  webSocketCount: 0,
  tracer: null,
  proxyTrust: null,
  connectionClosed() {},
  connectionUpgraded() {},
  sessionClosed() {},
};

const ENCODER = new TextEncoder();

/** `request` sent over a fresh stand-in connection; returns what the gateway handed the app. */
export function receive(request: Request): Request {
  const url = new URL(request.url);
  let head = `${request.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
  // Host comes from the URL, as a client sends it; the framing is ours (a
  // received request as input has its own).
  for (const [name, value] of request.headers)
    if (name !== "host" && name !== "transfer-encoding" && name !== "content-length")
      head += `${name}: ${value}\r\n`;
  const body = request.body;
  if (body !== null) head += "Transfer-Encoding: chunked\r\n";
  head += "\r\n";
  const socket = new StandInSocket();
  new HttpConnection(socket as unknown as Socket, host);
  received = null;
  socket.emit("data", Buffer.from(head, "latin1"));
  const result = received as Request | null;
  if (result === null) throw new Error(`the server did not take this request: ${JSON.stringify(head)}`);
  if (body !== null) void pump(body, socket);
  return result;
}

/** Writes the stream's chunks to the connection as chunked framing; an error cuts the body short. */
async function pump(body: ReadableStream<Uint8Array>, socket: StandInSocket): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const bytes = typeof value === "string" ? ENCODER.encode(value) : value;
      if (bytes.length === 0) continue;
      socket.emit(
        "data",
        Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from("\r\n")]),
      );
    }
    socket.emit("data", Buffer.from("0\r\n\r\n"));
  } catch {
    socket.emit("end"); // the client went away mid-body
  }
}

/**
 * A `Request` constructor for the tests: `new ServerRequest(input, init)`
 * is the received form of `new Request(input, init)`.
 */
export class ServerRequest extends GatewayRequest {
  constructor(input: ConstructorParameters<typeof NativeRequest>[0], init?: RequestInit) {
    super(input, init);
    // biome-ignore lint/correctness/noConstructorReturn: the instance is the request the gateway hands the app
    return receive(this) as ServerRequest;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof NativeRequest;
  }
}
