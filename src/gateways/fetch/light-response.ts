/**
 * A lightweight `Response` for the common case: a string or byte body with a
 * plain init. Constructing undici's Response builds a ReadableStream and a
 * Headers object, and reading it back costs promises per chunk; for a small
 * body that is most of a request's cost (bench/micro/response-cost.ts: ~13 µs
 * to construct on Node 20, ~5 µs on Node 24). A `LightResponse` only records
 * its arguments; the gateway writes them straight to the socket. Any member
 * the fast path does not cover builds the real Response once and delegates
 * to it, so apps see standard behaviour.
 *
 * The gateway installs it as `globalThis.Response` (as @hono/node-server
 * does), unless told not to. `instanceof Response` holds for both kinds.
 */

import { delegateMissingMembers } from "./delegate.ts";

const NativeResponse = globalThis.Response;
const NativeHeaders = globalThis.Headers;
const INIT_KEYS = new Set(["status", "statusText", "headers"]);

type HeadersInit = ConstructorParameters<typeof Headers>[0];
type BodyInit = ConstructorParameters<typeof Response>[0];

type FastBody = string | Uint8Array | ArrayBuffer | null | undefined;

function isFastBody(body: unknown): body is FastBody {
  return (
    body === null ||
    body === undefined ||
    typeof body === "string" ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer
  );
}

function isPlainInit(init: unknown): init is ResponseInit | undefined {
  if (init === undefined) return true;
  if (init === null || typeof init !== "object") return false;
  for (const key of Object.keys(init)) if (!INIT_KEYS.has(key)) return false;
  const status = (init as ResponseInit).status;
  // Statuses the standard refuses, or that forbid a body, take the native path and its errors.
  return status === undefined || (Number.isInteger(status) && status >= 200 && status <= 599);
}

/** What the gateway needs to write a response that never left the fast path. */
export interface ResponseParts {
  status: number;
  statusText: string;
  /** Flat name/value list. */
  headers: string[];
  body: Uint8Array;
}

/** Flattens any `HeadersInit` into a name/value list, as `new Headers(init)` would accept it. */
function flattenInit(init: HeadersInit | undefined, out: string[]): void {
  if (init === undefined) return;
  if (init instanceof NativeHeaders) {
    for (const [name, value] of init) if (name !== "set-cookie") out.push(name, value);
    for (const cookie of init.getSetCookie()) out.push("set-cookie", cookie);
  } else if (
    Array.isArray(init) ||
    typeof (init as unknown as Iterable<unknown>)[Symbol.iterator] === "function"
  ) {
    for (const pair of init as Iterable<[string, string]>)
      out.push(String(pair[0]), normalize(String(pair[1])));
  } else {
    for (const [name, value] of Object.entries(init)) out.push(name, normalize(String(value)));
  }
}

/**
 * A header value normalized as `new Headers()` does: leading and trailing
 * HTTP whitespace (Fetch: TAB, LF, CR, SP) removed, nothing else. trim()
 * would also strip U+00A0 and other Unicode spaces, which Headers keeps, so
 * a LightResponse and a Response would send different bytes.
 */
function normalize(value: string): string {
  return value.replace(HTTP_WHITESPACE_AROUND, "");
}
const HTTP_WHITESPACE_AROUND = /^[\t\n\r ]+|[\t\n\r ]+$/g;

function hasName(flat: string[], lower: string): boolean {
  for (let i = 0; i < flat.length; i += 2)
    if (flat[i]!.length === lower.length && flat[i]!.toLowerCase() === lower) return true;
  return false;
}

const TEXT_TYPE = "text/plain;charset=UTF-8";
const EMPTY = new Uint8Array(0);

/** See the file comment. */
export class LightResponse {
  #body: FastBody = null;
  #init: ResponseInit | undefined;
  #headers: Headers | null = null;
  #real: Response | null = null;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    if (
      isFastBody(body) &&
      isPlainInit(init) &&
      !(body !== null && body !== undefined && nullBodyStatus(init))
    ) {
      this.#body = body;
      this.#init = init;
    } else {
      this.#real = new NativeResponse(body, init);
    }
  }

  get status(): number {
    return this.#real !== null ? this.#real.status : (this.#init?.status ?? 200);
  }

  get statusText(): string {
    return this.#real !== null ? this.#real.statusText : (this.#init?.statusText ?? "");
  }

  get ok(): boolean {
    const status = this.status;
    return status >= 200 && status < 300;
  }

  get headers(): Headers {
    if (this.#real !== null) return this.#real.headers;
    if (this.#headers === null) {
      const headers = new NativeHeaders(this.#init?.headers);
      if (typeof this.#body === "string" && !headers.has("content-type"))
        headers.set("content-type", TEXT_TYPE);
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** Builds the real Response from what was recorded (with headers as mutated so far). */
  #materialize(): Response {
    if (this.#real === null) {
      const init: ResponseInit =
        this.#headers === null ? { ...this.#init } : { ...this.#init, headers: this.#headers };
      this.#real = new NativeResponse(this.#body, init);
    }
    return this.#real;
  }

  /**
   * @internal The recorded parts if the fast path still holds, else null
   * (also for a native Response, which `instanceof LightResponse` accepts).
   */
  static parts(response: LightResponse): ResponseParts | null {
    if (!(#real in response) || response.#real !== null) return null;
    const body = response.#body;
    const headers: string[] = [];
    if (response.#headers !== null) flattenInit(response.#headers, headers);
    else {
      flattenInit(response.#init?.headers, headers);
      if (typeof body === "string" && !hasName(headers, "content-type"))
        headers.push("content-type", TEXT_TYPE);
    }
    let bytes: Uint8Array;
    if (body === null || body === undefined) bytes = EMPTY;
    else if (typeof body === "string") bytes = Buffer.from(body, "utf8");
    else if (body instanceof ArrayBuffer) bytes = new Uint8Array(body);
    else bytes = body;
    return { status: response.status, statusText: response.statusText, headers, body: bytes };
  }

  /** @internal Access for the delegating members installed below. */
  static real(response: LightResponse): Response {
    return response.#materialize();
  }

  /** `Response.json(data, init)`, on the fast path. */
  static json(data: unknown, init?: ResponseInit): Response {
    const body = JSON.stringify(data);
    const headers = new NativeHeaders(init?.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new LightResponse(body, { ...init, headers }) as unknown as Response;
  }

  static redirect(url: string | URL, status?: number): Response {
    return NativeResponse.redirect(url, (status ?? 302) as Parameters<typeof NativeResponse.redirect>[1]);
  }

  static error(): Response {
    return NativeResponse.error();
  }

  /** Both kinds are Responses: `x instanceof Response` holds for native and light ones. */
  static [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof NativeResponse;
  }
}

function nullBodyStatus(init: ResponseInit | undefined): boolean {
  const status = init?.status;
  return status === 204 || status === 205 || status === 304;
}

// Every other member (body, bodyUsed, type, url, redirected, clone(), text(), ...)
// builds the real Response and delegates to it.
delegateMissingMembers<LightResponse>(LightResponse, NativeResponse, (self) => LightResponse.real(self));

let installed = false;

/**
 * Makes `new Response(...)` in apps build a {@link LightResponse}. Idempotent.
 * Apps that need undici's own class can still reach it with `fetch()` results.
 */
export function installLightResponse(): void {
  if (installed) return;
  installed = true;
  Object.defineProperty(globalThis, "Response", {
    value: LightResponse,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/** The native Response class, whatever `globalThis.Response` is now. */
export { NativeResponse };
