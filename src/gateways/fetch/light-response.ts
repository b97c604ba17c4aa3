/**
 * A lightweight `Response` for the common case: a string or byte body with a
 * plain init. Constructing undici's Response builds a ReadableStream and a
 * Headers object, and reading it back costs promises per chunk; for a small
 * body that is most of a request's cost (bench/micro/response-cost.ts: ~13 µs
 * to construct on Node 20, ~5 µs on Node 24). A `LightResponse` only records
 * its arguments; the gateway writes them straight to the socket. Any member
 * the fast path does not cover builds the real Response once and delegates
 * to it, so apps see standard behaviour. The init is read and validated at
 * construction as the standard's constructor does (same errors); only plainly
 * valid inits stay on the fast path, the rest goes to the native constructor.
 *
 * The gateway installs it as `globalThis.Response` (as @hono/node-server
 * does), unless told not to. `instanceof Response` holds for both kinds.
 * Nothing here loads undici before an app's response needs it (natives.ts).
 */

import { equalsLower } from "../../http1/chars.ts";
import { delegateKnownMembers, delegateMissingMembers, RESPONSE_MEMBERS } from "./delegate.ts";
import { nativeAlreadyLoaded, nativeHeaders, nativeResponse, REPLACEMENT } from "./natives.ts";

let linked = false;

/**
 * undici's Response class, loaded on first use; the LightResponse
 * prototype is linked to it then (see delegate.ts).
 */
function NativeResponse(): typeof Response {
  const native = nativeResponse();
  if (!linked) {
    linked = true;
    // Every other member (a newer Node's) builds the real Response and delegates to it.
    delegateMissingMembers<LightResponse>(LightResponse, native, (self) => LightResponse.real(self));
  }
  return native;
}

type HeadersInit = ConstructorParameters<typeof Headers>[0];
type BodyInit = ConstructorParameters<typeof Response>[0];

/** A ResponseInit being assembled (undici's type marks the members read-only). */
type Init = { -readonly [K in keyof ResponseInit]: ResponseInit[K] };

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

/**
 * A registered symbol on the WebSocket upgrade response (see websocket.ts),
 * whose value identifies the pending upgrade. `new Response(body, upgrade)`
 * (Hono rebuilds its response so) gives another upgrade response with the
 * same identity, where the standard would refuse status 101.
 */
export const UPGRADE = Symbol.for("tsgi.fetch.upgrade");

/**
 * The 101 response `upgradeWebSocket()` hands the app: a native Response
 * whose `status` reads 101 (the standard's constructor refuses 1xx) and
 * that carries `token` under {@link UPGRADE}.
 */
export function upgradeResponse(headers: HeadersInit | undefined, token: object): Response {
  const response = new (NativeResponse())(null, { status: 200, headers });
  Object.defineProperty(response, "status", { value: 101 });
  Object.defineProperty(response, UPGRADE, { value: token });
  return response;
}

/** What the gateway needs to write a response that never left the fast path: a response head, and the body. */
export interface ResponseParts {
  status: number;
  /** The status text, or undefined for none (the standard's reason then). */
  reason: string | undefined;
  /** Flat name/value list. */
  headers: string[];
  /** A string body is sent as UTF-8 (with its head, as one string write). */
  body: Uint8Array | string;
}

/** An RFC 9110 token: what the standard accepts as a header name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * Names already found valid: apps send the same few names over and over,
 * and a Set lookup is cheaper than the regex. Bounded, so odd names cannot
 * grow it without end.
 */
const KNOWN_NAMES = new Set<string>();

function validName(name: string): boolean {
  if (KNOWN_NAMES.has(name)) return true;
  if (!TOKEN.test(name)) return false;
  if (KNOWN_NAMES.size < 512) KNOWN_NAMES.add(name);
  return true;
}

/** A byte a header value may not hold as is: NUL, CR, LF and the other controls but HTAB, or above 0xFF. */
const UNCLEAN_BYTE = /[^\t\x20-\x7E\x80-\xFF]/;

/**
 * A header value the standard takes as is: bytes only, no control but HTAB
 * inside, no leading or trailing SP/HTAB. Anything else goes through the
 * native Headers, which normalizes it or throws exactly as the standard
 * says (a rare path: this only keeps the common one cheap).
 */
function cleanValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  return first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09 && !UNCLEAN_BYTE.test(value);
}
/** The standard's reason-phrase production (what `statusText` must match). */
const REASON = /^[\t\x20-\x7E\x80-\xFF]*$/;

/**
 * The fields of a `HeadersInit` as a flat name/value list if every one is
 * plainly valid (a record of strings, an array of string pairs, a Headers),
 * else null: the caller then lets the native Headers convert, normalize or
 * throw. Read at construction, as WebIDL converts the init then.
 */
function fastHeaders(init: HeadersInit | undefined): string[] | null {
  const out: string[] = [];
  if (init === undefined) return out;
  if (Array.isArray(init)) {
    if (Object.getPrototypeOf(init) !== Array.prototype) return null;
    for (const pair of init) {
      if (!Array.isArray(pair) || pair.length !== 2) return null;
      const [name, value] = pair as unknown[];
      if (typeof name !== "string" || typeof value !== "string") return null;
      if (!validName(name) || !cleanValue(value)) return null;
      out.push(name, value);
    }
    return out;
  }
  if (typeof init !== "object" || init === null) return null;
  const proto = Object.getPrototypeOf(init);
  // A Headers object can only exist once undici is loaded: checked after the plain kinds.
  if (proto !== Object.prototype && proto !== null)
    return init instanceof nativeHeaders() ? flattenHeaders(init) : null;
  // Symbol keys are not looked for (the standard's record conversion throws
  // on them): Object.getOwnPropertySymbols would cost more than all the rest.
  for (const name of Object.keys(init)) {
    const value = (init as Record<string, unknown>)[name];
    if (typeof value !== "string" || !validName(name) || !cleanValue(value)) return null;
    out.push(name, value);
  }
  return out;
}

/** Whether the flat list (of valid names: tokens, so ASCII) has the field `lower`. */
function hasName(flat: string[], lower: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (equalsLower(flat[i]!, lower)) return true;
  return false;
}

/** The fields of a `Headers` as a flat list; Set-Cookie values stay separate. */
function flattenHeaders(headers: Headers): string[] {
  const out: string[] = [];
  for (const [name, value] of headers) if (name !== "set-cookie") out.push(name, value);
  for (const cookie of headers.getSetCookie()) out.push("set-cookie", cookie);
  return out;
}

const TEXT_TYPE = "text/plain;charset=UTF-8";
const EMPTY = new Uint8Array(0);

/** See the file comment. */
export class LightResponse {
  #body: FastBody = null;
  #status = 200;
  #statusText = "";
  /** The header list recorded at construction, while no Headers object exists. */
  #flat: string[] | null = null;
  #headers: Headers | null = null;
  #real: Response | null = null;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    // The init is a WebIDL dictionary: its members are read once, now, through
    // getters too (so another Response works as an init), in the standard's
    // order. Unknown members are ignored.
    if (init === undefined || init === null) {
      if (isFastBody(body)) {
        this.#body = body;
        this.#flat = typeof body === "string" ? ["content-type", TEXT_TYPE] : [];
      } else this.#real = new (NativeResponse())(body, init);
      return;
    }
    if (typeof init !== "object" && typeof init !== "function") {
      this.#real = new (NativeResponse())(body, init); // throws the standard's TypeError
      return;
    }
    const headers = init.headers;
    const status = init.status;
    const statusText = init.statusText;
    if (status === 101 && (init as { [UPGRADE]?: object })[UPGRADE] !== undefined) {
      // Middleware rebuilding the WebSocket upgrade response (see UPGRADE).
      if (body !== null && body !== undefined)
        throw new TypeError("a WebSocket upgrade response has no body");
      // biome-ignore lint/correctness/noConstructorReturn: the upgrade response must be the native kind the gateway recognizes
      return upgradeResponse(headers, (init as { [UPGRADE]: object })[UPGRADE]) as unknown as LightResponse;
    }
    const fast =
      isFastBody(body) &&
      (status === undefined ||
        (typeof status === "number" && Number.isInteger(status) && status >= 200 && status <= 599)) &&
      (statusText === undefined || (typeof statusText === "string" && REASON.test(statusText))) &&
      !(body !== null && body !== undefined && nullBodyStatus(status));
    const flat = fast ? fastHeaders(headers) : null;
    if (flat === null) {
      // Whatever the fast path does not cover gets the native constructor, its
      // conversions and its errors (given the members already read: no getter runs twice).
      const dict: Init = {};
      if (headers !== undefined) dict.headers = headers;
      if (status !== undefined) dict.status = status;
      if (statusText !== undefined) dict.statusText = statusText;
      this.#real = new (NativeResponse())(body, dict);
      return;
    }
    if (typeof body === "string" && !hasName(flat, "content-type")) flat.push("content-type", TEXT_TYPE);
    this.#body = body as FastBody;
    this.#status = status ?? 200;
    this.#statusText = statusText ?? "";
    this.#flat = flat;
  }

  get status(): number {
    return this.#real !== null ? this.#real.status : this.#status;
  }

  get statusText(): string {
    return this.#real !== null ? this.#real.statusText : this.#statusText;
  }

  get ok(): boolean {
    const status = this.status;
    return status >= 200 && status < 300;
  }

  get headers(): Headers {
    if (this.#real !== null) return this.#real.headers;
    if (this.#headers === null) {
      const headers = new (nativeHeaders())();
      const flat = this.#flat!;
      for (let i = 0; i < flat.length; i += 2) headers.append(flat[i]!, flat[i + 1]!);
      this.#headers = headers;
      this.#flat = null;
    }
    return this.#headers;
  }

  /** Builds the real Response from what was recorded (with headers as mutated so far). */
  #materialize(): Response {
    if (this.#real === null) {
      this.#real = new (NativeResponse())(this.#body, {
        status: this.#status,
        statusText: this.#statusText,
        headers: this.headers,
      });
    }
    return this.#real;
  }

  /**
   * @internal The recorded parts if the fast path still holds, else null
   * (also for a native Response, which `instanceof LightResponse` accepts).
   */
  static parts(response: unknown): ResponseParts | null {
    if (typeof response !== "object" || response === null || !(#real in response) || response.#real !== null)
      return null;
    const body = response.#body;
    const headers = response.#headers !== null ? flattenHeaders(response.#headers) : response.#flat!;
    let bytes: Uint8Array | string;
    if (body === null || body === undefined) bytes = EMPTY;
    else if (typeof body === "string") bytes = body;
    else if (body instanceof ArrayBuffer) bytes = new Uint8Array(body);
    else bytes = body;
    const reason = response.#statusText === "" ? undefined : response.#statusText;
    return { status: response.#status, reason, headers, body: bytes };
  }

  /** @internal Access for the delegating members installed below. */
  static real(response: LightResponse): Response {
    return response.#materialize();
  }

  /** `Response.json(data, init)`, on the fast path when it can be. */
  static json(data: unknown, init?: ResponseInit): Response {
    const body = JSON.stringify(data);
    // The standard: a value JSON cannot serialize (undefined, a function, a symbol) is a TypeError.
    if (body === undefined) throw new TypeError(`Response.json: ${typeof data} cannot be serialized to JSON`);
    if (init !== undefined && init !== null && typeof init !== "object" && typeof init !== "function")
      return NativeResponse().json(data, init); // throws the standard's TypeError
    const given = init?.headers;
    const flat = fastHeaders(given);
    let headers: HeadersInit;
    if (flat !== null) {
      // Plainly valid fields stay a list, so no Headers object (nor undici) is needed.
      if (!hasName(flat, "content-type")) flat.push("content-type", "application/json");
      const pairs: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
      headers = pairs;
    } else {
      const native = new (nativeHeaders())(given);
      if (!native.has("content-type")) native.set("content-type", "application/json");
      headers = native;
    }
    const dict: Init = { headers };
    const status = init?.status;
    const statusText = init?.statusText;
    if (status !== undefined) dict.status = status;
    if (statusText !== undefined) dict.statusText = statusText;
    return new LightResponse(body, dict) as unknown as Response;
  }

  static redirect(url: string | URL, status?: number): Response {
    return NativeResponse().redirect(url, (status ?? 302) as Parameters<typeof Response.redirect>[1]);
  }

  static error(): Response {
    return NativeResponse().error();
  }

  /**
   * Both kinds are Responses: `x instanceof Response` holds for native and
   * light ones. A subclass keeps the ordinary check, so a plain Response is
   * not an instance of it. Only an object that says it is a Response (its
   * `Symbol.toStringTag`) is checked against undici's class, so asking
   * about anything else does not load undici.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked about, maybe a subclass
    if (this === LightResponse) {
      if (typeof value !== "object" || value === null) return false;
      if (#real in value) return true;
      return (
        Object.prototype.toString.call(value) === "[object Response]" && value instanceof NativeResponse()
      );
    }
    // biome-ignore lint/complexity/noThisInStatic: a subclass must get the ordinary check for itself
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

function nullBodyStatus(status: number | undefined): boolean {
  return status === 204 || status === 205 || status === 304;
}

// Every other member (body, bodyUsed, type, url, redirected, clone(), text(), ...)
// builds the real Response and delegates to it.
delegateKnownMembers<LightResponse>(LightResponse, RESPONSE_MEMBERS, "Response", (self) =>
  LightResponse.real(self),
);
Object.defineProperty(LightResponse, REPLACEMENT, { value: true });

let installed = false;

/**
 * Makes `new Response(...)` in apps build a {@link LightResponse}. Idempotent.
 * Apps that need undici's own class can still reach it with `fetch()` results.
 */
export function installLightResponse(): void {
  if (installed) return;
  installed = true;
  // Already loaded (always on Node 24): link the prototypes now, as nothing is saved by waiting.
  if (nativeAlreadyLoaded("Response")) NativeResponse();
  Object.defineProperty(globalThis, "Response", {
    value: LightResponse,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/** The native Response class, whatever `globalThis.Response` is now (loads undici on first call). */
export { NativeResponse };
