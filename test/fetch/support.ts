/**
 * Helpers shared by the Fetch gateway tests: start a Fetch app on a real
 * socket, send raw requests and read responses with their real framing
 * (test/server/client.ts), and wait for things the app records.
 */

import assert from "node:assert/strict";
import type { FetchHandler } from "../../src/gateways/fetch/types.ts";
import type { ServeAppOptions } from "../../src/serve.ts";
import type { Server } from "../../src/server/server.ts";
import { type Capture, startServer } from "../helpers.ts";
import { Client, type Response as RawResponse, show } from "../server/client.ts";

export { Client, header, type Response as RawResponse, show, sleep } from "../server/client.ts";

/** A running Fetch server. */
export interface FetchServer {
  server: Server;
  port: number;
  errors: Capture;
  access: Capture;
  close(): Promise<void>;
}

/** Serves `app` through the Fetch gateway on 127.0.0.1:0, logs captured. */
export async function serveFetch(
  app: FetchHandler | { fetch: FetchHandler },
  options: ServeAppOptions = {},
): Promise<FetchServer> {
  const started = await startServer(app, { interface: "fetch", ...options });
  return { ...started, close: () => started.server.close(1000) };
}

/** A GET on host "t" (keep-alive unless `extra` says otherwise). */
export function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
}

/** A request with a Content-Length body. */
export function post(path: string, body: string | Uint8Array, extra = ""): Uint8Array {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  const head = `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${bytes.length}\r\n${extra}\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), bytes]);
}

/** Sends `bytes` on a fresh connection, reads one response, closes the connection. */
export async function roundTrip(
  port: number,
  bytes: string | Uint8Array,
  { head = false, timeoutMs = 3000 } = {},
): Promise<RawResponse> {
  const client = await Client.open(port);
  try {
    client.send(bytes);
    return await client.read({ head, timeoutMs });
  } finally {
    client.destroy();
  }
}

/** The server still answers: a plain GET on a fresh connection gets `expected`. */
export async function assertServes(port: number, path = "/ok", expected = "ok"): Promise<void> {
  const res = await roundTrip(port, get(path));
  assert.equal(res.status, 200, show(res));
  assert.equal(res.body.toString(), expected);
}

/** Resolves once `predicate` holds, polling; rejects after `ms`. */
export async function waitFor(predicate: () => boolean, what: string, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** How many times `needle` occurs in `text`. */
export function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

export const encoder = new TextEncoder();
