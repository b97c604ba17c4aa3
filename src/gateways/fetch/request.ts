/**
 * The Request a Fetch app receives: a lazy facade over the parsed request.
 * Building an undici `Request` (and its `Headers`) costs more than parsing
 * the request did, and most handlers read only `method`, `url` and a header
 * or two. So `method` and `url` come straight from the parsed head, `headers`
 * is built on first use, `text()`/`json()`/`arrayBuffer()` read the body
 * without streams, and anything else builds the real `Request` once and
 * delegates to it. `request instanceof Request` holds; once undici is
 * loaded the facade's prototype chain includes `Request.prototype` too. The
 * gateway's `Request` and `fetch` globals (below) hand undici the real
 * Request when it needs its own. Nothing here loads undici before the app
 * asks for something only undici has (natives.ts).
 */

import { ClientGoneError } from "../../server/errors.ts";
import type { Exchange } from "../../server/exchange.ts";
import { bodyStream, collectBody } from "./body.ts";
import { delegateKnownMembers, delegateMissingMembers, REQUEST_MEMBERS } from "./delegate.ts";
import { nativeAlreadyLoaded, nativeFetch, nativeHeaders, nativeRequest, REPLACEMENT } from "./natives.ts";

let linked = false;

/**
 * undici's Request class, loaded on first use; the LazyRequest prototype
 * is linked to it then (see delegate.ts).
 */
function NativeRequest(): typeof globalThis.Request {
  const native = nativeRequest();
  if (!linked) {
    linked = true;
    delegateMissingMembers<LazyRequest>(LazyRequest, native, (self) => LazyRequest.materialize(self));
  }
  return native;
}
const STANDARD_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
const UTF8 = new TextDecoder("utf-8", { ignoreBOM: false });
const EMPTY = new Uint8Array(0);

/** The absolute URL of a request, from scheme, Host (or the local address) and target (RFC 9112 §3.3). */
function requestUrl(ex: Exchange): string {
  const { target, host } = ex.request;
  const scheme = ex.info.tls ? "https" : "http";
  const first = target.charCodeAt(0);
  if (first !== 0x2f && target !== "*" && target.includes("://")) return target; // absolute-form
  const { localAddress, localPort } = ex.info;
  const address = localAddress.includes(":") ? `[${localAddress}]` : localAddress; // IPv6
  const authority = host !== "" ? host : `${address}:${localPort}`;
  if (first === 0x2f) return `${scheme}://${authority}${target}`;
  return `${scheme}://${target === "*" ? authority : target}/`; // asterisk- and authority-form
}

/** A body-less method (the Fetch standard refuses a body on these). */
function bodyless(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

/**
 * Where a request keeps its exchange for `upgradeWebSocket()`: a registered
 * symbol, so a copy of tsgi other than the server's finds it too.
 */
const EXCHANGE = Symbol.for("tsgi.exchange");

/** See the file comment. Create with `new LazyRequest(exchange)`. */
export class LazyRequest {
  readonly #ex: Exchange;
  /** @internal The exchange, for upgradeWebSocket(). */
  readonly [EXCHANGE]: Exchange;
  #url: string | null = null;
  #headers: Headers | null = null;
  #signal: AbortSignal | null = null;
  #real: Request | null = null;
  #used = false;

  constructor(ex: Exchange) {
    this.#ex = ex;
    this[EXCHANGE] = ex;
  }

  get method(): string {
    const method = this.#ex.request.method;
    if (method === "GET" || method === "POST") return method;
    // The Fetch standard upper-cases the six standard methods written in lower case.
    const upper = method.toUpperCase();
    return STANDARD_METHODS.has(upper) ? upper : method;
  }

  get url(): string {
    if (this.#url === null) this.#url = requestUrl(this.#ex);
    return this.#url;
  }

  get headers(): Headers {
    if (this.#real !== null) return this.#real.headers;
    if (this.#headers === null) {
      const headers = new (nativeHeaders())();
      const flat = this.#ex.request.headers;
      for (let i = 0; i < flat.length; i += 2) headers.append(flat[i]!, flat[i + 1]!);
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** Aborted when the client disconnects before the response is complete. */
  get signal(): AbortSignal {
    if (this.#signal === null) {
      const controller = new AbortController();
      this.#ex.onClientGone(() => controller.abort(new ClientGoneError("client disconnected")));
      this.#signal = controller.signal;
    }
    return this.#signal;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#real === null && !this.#hasBody()) return null;
    return this.#materialize().body;
  }

  get bodyUsed(): boolean {
    return this.#real !== null ? this.#real.bodyUsed : this.#used;
  }

  async text(): Promise<string> {
    return UTF8.decode(await this.#bytes());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#bytes();
    // A fresh ArrayBuffer the app owns, as the standard gives.
    const copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    return copy.buffer;
  }

  /** Whether the Request has a body at all (else `body` is null, as the standard gives for GET). */
  #hasBody(): boolean {
    return !bodyless(this.#ex.request.method) && this.#ex.request.framing !== "none";
  }

  /** The whole body without building streams, unless the real Request already exists. */
  async #bytes(): Promise<Uint8Array> {
    if (this.#real !== null) return new Uint8Array(await this.#real.arrayBuffer());
    // A null body reads as empty, as often as asked, and is never "used".
    if (!this.#hasBody()) return EMPTY;
    if (this.#used) throw new TypeError("Body is unusable: it has already been read");
    this.#used = true;
    return collectBody(this.#ex);
  }

  /** The real undici Request, built once, for everything the facade does not answer itself. */
  #materialize(): Request {
    if (this.#real !== null) return this.#real;
    const ex = this.#ex;
    const init: RequestInit & { duplex?: "half" } = {
      method: ex.request.method,
      headers: this.headers,
      signal: this.signal,
    };
    const spent = this.#used;
    if (this.#hasBody()) {
      // After text()/json()/arrayBuffer() the real Request gets an empty body that
      // is then disturbed: bodyUsed stays true, `body` is still a stream, and
      // reading again rejects with a TypeError, as it would on a real Request.
      init.body = spent ? new ReadableStream({ start: (controller) => controller.close() }) : bodyStream(ex);
      init.duplex = "half";
    }
    const real = new (NativeRequest())(this.url, init);
    if (spent) void real.body!.getReader().read();
    this.#real = real;
    return real;
  }

  /** The exchange behind `request` if it is a LazyRequest, else null. */
  static exchangeOf(request: unknown): Exchange | null {
    // By the shared symbol, not the private field: the request may come from another copy of tsgi.
    return typeof request === "object" && request !== null
      ? ((request as { [EXCHANGE]?: Exchange })[EXCHANGE] ?? null)
      : null;
  }

  static materialize(request: LazyRequest): Request {
    return request.#materialize();
  }

  /**
   * `input` as undici can take it: a LazyRequest becomes the real Request
   * it stands for (built once); anything else is returned as is.
   */
  static unwrap<T>(input: T): T | Request {
    return typeof input === "object" && input !== null && #real in input
      ? (input as unknown as LazyRequest).#materialize()
      : input;
  }
}

// Every other member of Request (cache, credentials, clone(), formData(), blob(), ...)
// delegates to the real Request.
delegateKnownMembers<LazyRequest>(LazyRequest, REQUEST_MEMBERS, "Request", (self) =>
  LazyRequest.materialize(self),
);

/**
 * undici's `Request` constructor and `fetch()` trust `instanceof Request`
 * and then read the internal state of their own objects (a symbol-keyed
 * field on Node 20, a private `#state` field on Node 22+), which a facade
 * cannot have: `new Request(request)` and `fetch(request)` would throw. No
 * cheap object can carry that state (only undici's constructor creates it,
 * and it costs more than the rest of a request), so the gateway replaces
 * the two globals, as @hono/node-server replaces `Request`: each hands
 * undici the real Request behind a facade and is the native one otherwise.
 * The `Request` class extends undici's, so it is made when first asked for.
 */
function makeGatewayRequest(): typeof globalThis.Request {
  const Native = NativeRequest();
  class Request extends Native {
    // The arguments pass on as given, so a missing one gets undici's own error.
    constructor(...args: ConstructorParameters<typeof globalThis.Request>) {
      if (args.length > 0) args[0] = LazyRequest.unwrap(args[0]);
      super(...args);
    }

    /** Native Requests and facades are Requests; a subclass keeps the ordinary check. */
    static override [Symbol.hasInstance](value: unknown): boolean {
      // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked about, maybe a subclass
      if (this === Request) return value instanceof Native;
      // biome-ignore lint/complexity/noThisInStatic: a subclass must get the ordinary check for itself
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
  }
  Object.defineProperty(Request, REPLACEMENT, { value: true });
  return Request;
}

let GatewayRequestClass: typeof globalThis.Request | undefined;

/** The gateway's `Request` class (made, and undici loaded, on first call). */
function gatewayRequest(): typeof globalThis.Request {
  if (GatewayRequestClass === undefined) GatewayRequestClass = makeGatewayRequest();
  return GatewayRequestClass;
}

/** `fetch()`, taking a facade for the Request it stands for. */
function fetch(...args: Parameters<typeof globalThis.fetch>): Promise<globalThis.Response> {
  if (args.length > 0) args[0] = LazyRequest.unwrap(args[0]);
  return nativeFetch()(...args);
}
Object.defineProperty(fetch, REPLACEMENT, { value: true });

// `request.constructor === Request`, as for a Request the app builds itself.
Object.defineProperty(LazyRequest.prototype, "constructor", {
  get: gatewayRequest,
  configurable: true,
  enumerable: false,
});

let requestGlobalsInstalled = false;

/**
 * Replaces `globalThis.Request` and `globalThis.fetch` with the versions
 * above, so `new Request(request)` and `fetch(request)` work on the Request
 * a Fetch app receives. Idempotent; called by the gateway. `Request` is a
 * lazy getter, as Node's own is: the class is made on first read.
 */
export function installRequestGlobals(): void {
  if (requestGlobalsInstalled) return;
  requestGlobalsInstalled = true;
  const define = (name: string, value: unknown) =>
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  if (nativeAlreadyLoaded("Request")) define("Request", gatewayRequest());
  else
    Object.defineProperty(globalThis, "Request", {
      get: () => {
        const value = gatewayRequest();
        define("Request", value);
        return value;
      },
      set: (value: unknown) => define("Request", value),
      configurable: true,
      enumerable: false,
    });
  define("fetch", fetch);
}

export { fetch as gatewayFetch, gatewayRequest, NativeRequest };
