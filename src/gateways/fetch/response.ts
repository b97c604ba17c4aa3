/**
 * Writes a Fetch `Response` to an exchange. A {@link LightResponse} still on
 * its fast path goes out as one buffer with Content-Length. Any other body is
 * read from its stream: if it turns out to be complete after one chunk (what
 * undici gives for string and byte bodies) it still goes out with
 * Content-Length; otherwise chunks are written as they come (server-sent
 * events reach the client event by event), waiting for 'drain' when the
 * socket is full, and the stream is cancelled if the client goes away (or,
 * for HEAD, once the head is out).
 */

import type { ResponseHead } from "../../http1/events.ts";
import { TsgiError } from "../../http1/tsgi-error.ts";
import { ClientGoneError } from "../../server/errors.ts";
import type { Exchange } from "../../server/exchange.ts";
import { LightResponse } from "./light-response.ts";

/** The app broke the Fetch contract (e.g. returned something that is not a Response). */
export class FetchGatewayError extends TsgiError {
  override readonly name = "FetchGatewayError";
  readonly code = "TSGI_ERR_FETCH_CONTRACT";
}

const EMPTY = new Uint8Array(0);
const PENDING = Symbol("pending");

/** PENDING once the microtasks queued so far have run (at the end of this event-loop turn). */
function endOfTurn(): Promise<typeof PENDING> {
  return new Promise((resolve) => setImmediate(resolve, PENDING));
}

/**
 * Flattens response headers; Set-Cookie values stay separate fields (RFC
 * 6265 §3) where the Headers class can tell them apart (`getSetCookie`).
 */
function headerList(headers: Headers): string[] {
  const flat: string[] = [];
  const separate = typeof headers.getSetCookie === "function";
  for (const [name, value] of headers) if (!separate || name !== "set-cookie") flat.push(name, value);
  if (separate) for (const cookie of headers.getSetCookie()) flat.push("set-cookie", cookie);
  return flat;
}

/**
 * Whether `value` is a Response of another Fetch implementation (the
 * `undici` package's, a polyfill's): it says it is one
 * (`Symbol.toStringTag`), and has what the gateway reads, an integer
 * `status`, iterable `headers` and a `body` that is null or a stream.
 * A Response from another realm or copy of undici is as good as Node's own.
 */
export function isResponseLike(value: unknown): value is Response {
  if (typeof value !== "object" || value === null) return false;
  if (Object.prototype.toString.call(value) !== "[object Response]") return false;
  const { status, headers, body } = value as { status?: unknown; headers?: unknown; body?: unknown };
  return (
    typeof status === "number" &&
    Number.isInteger(status) &&
    typeof headers === "object" &&
    headers !== null &&
    typeof (headers as Iterable<unknown>)[Symbol.iterator] === "function" &&
    (body === null || (typeof body === "object" && typeof (body as ReadableStream).getReader === "function"))
  );
}

function waitForDrain(ex: Exchange): Promise<void> {
  return new Promise((resolve) => ex.onDrain(resolve));
}

function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new FetchGatewayError(`response body chunks must be Uint8Array, got ${typeof chunk}`);
}

/**
 * Sends `response`. Returns a promise only when the body is streamed.
 * @throws FetchGatewayError if `response` is not a Response.
 */
export function writeResponse(ex: Exchange, response: unknown): Promise<void> | undefined {
  // First the light Response on its fast path: asking undici's class about it would load undici.
  const parts = LightResponse.parts(response);
  if (parts !== null) {
    // The parts are a ResponseHead (and the body).
    ex.respond(parts, parts.body);
    return undefined;
  }
  // `instanceof LightResponse` holds for undici's Responses too (its Symbol.hasInstance).
  if (!(response instanceof LightResponse) && !isResponseLike(response)) {
    throw new FetchGatewayError(
      `the app must return a Response, got ${response === null ? "null" : typeof response}`,
    );
  }
  const res = response as Response;
  const head: ResponseHead = {
    status: res.status,
    reason: res.statusText === "" ? undefined : res.statusText,
    headers: headerList(res.headers),
  };
  const body = res.body;
  if (body === null) {
    ex.respond(head, EMPTY);
    return undefined;
  }
  return streamBody(ex, head, body);
}

async function streamBody(ex: Exchange, head: ResponseHead, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  ex.onClientGone(() => {
    reader.cancel(new ClientGoneError("client disconnected")).catch(() => {});
  });
  try {
    const first = await reader.read();
    if (ex.finished) return;
    if (first.done) {
      ex.respond(head, EMPTY);
      return;
    }
    // Is the body already complete? A second read that settles without waiting
    // for I/O or timers says so. (undici closes the stream of a known body in a
    // microtask after its one chunk, so the read does not settle synchronously.)
    const secondRead = reader.read();
    const second = await Promise.race([secondRead, endOfTurn()]);
    if (ex.finished) return;
    if (second !== PENDING && second.done) {
      ex.respond(head, asBytes(first.value));
      return;
    }
    ex.respond(head);
    if (ex.request.method === "HEAD") {
      // No body goes out: stop the stream rather than drain it (an event stream never ends).
      reader.cancel().catch(() => {});
      ex.end();
      return;
    }
    let writable = ex.write(asBytes(first.value));
    let next = second === PENDING ? await secondRead : second;
    while (!next.done) {
      if (ex.finished) return;
      if (!writable) await waitForDrain(ex);
      if (ex.finished) return;
      writable = ex.write(asBytes(next.value));
      next = await reader.read();
    }
    if (!ex.finished) ex.end();
  } catch (err) {
    reader.cancel(err).catch(() => {});
    if (!ex.finished) ex.fail(err);
  }
}
