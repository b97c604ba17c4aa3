/**
 * Node's own `Request`, `Response`, `Headers` and `fetch`, reached without
 * loading undici before something needs it. On Node 20 and 22 the globals
 * are lazy getters (lib/internal/bootstrap/web/exposed-window-or-worker.js):
 * the first read loads undici, about 9 MiB of RSS on Node 20, which a Fetch
 * app that returns string or byte bodies never needs (the gateway's lazy
 * Request and light Response answer it). The gateway replaces `Request`,
 * `Response` and `fetch` on globalThis, so the original properties are kept
 * here, read as descriptors, which does not run Node 20's getters. (Node 24
 * makes them V8 lazy data properties: reading the descriptor, or redefining
 * the property, loads undici there, as `import "node:http"` does anyway.)
 *
 * The originals are kept in a registry on globalThis under a registered
 * symbol, so a second copy of tsgi in the process finds Node's classes, not
 * the first copy's replacements.
 */

type Name = "Request" | "Response" | "Headers" | "fetch";

const REGISTRY_KEY = Symbol.for("tsgi.fetch.nativeGlobals");
const holder = globalThis as { [REGISTRY_KEY]?: Record<Name, PropertyDescriptor | undefined> };
if (holder[REGISTRY_KEY] === undefined) {
  holder[REGISTRY_KEY] = {
    Request: Object.getOwnPropertyDescriptor(globalThis, "Request"),
    Response: Object.getOwnPropertyDescriptor(globalThis, "Response"),
    Headers: Object.getOwnPropertyDescriptor(globalThis, "Headers"),
    fetch: Object.getOwnPropertyDescriptor(globalThis, "fetch"),
  };
}
const ORIGINAL: Record<Name, PropertyDescriptor | undefined> = holder[REGISTRY_KEY];

/**
 * The value of Node's original global `name`. Node's lazy getter redefines
 * the global as the value it loaded, so whatever is installed there now
 * (the gateway's replacement) is put back afterwards.
 */
function original<T>(name: Name): T {
  const descriptor = ORIGINAL[name];
  if (descriptor === undefined) return undefined as T;
  if (descriptor.get === undefined) return descriptor.value as T;
  const now = Object.getOwnPropertyDescriptor(globalThis, name);
  const value = descriptor.get.call(globalThis) as T;
  if (now !== undefined && now.get !== descriptor.get) Object.defineProperty(globalThis, name, now);
  return value;
}

/** Marks the gateway's replacement globals, so they are never taken for Node's own. */
export const REPLACEMENT = Symbol.for("tsgi.fetch.replacement");

/**
 * Whether Node's `name` is already loaded: Node 24 has the classes in its
 * startup snapshot (plain values from the start); on Node 20 and 22 someone
 * read the global before the gateway replaced it, and Node's getter left
 * the value in its place. Then reaching it costs nothing.
 */
export function nativeAlreadyLoaded(name: Name): boolean {
  const descriptor = ORIGINAL[name];
  if (descriptor === undefined || descriptor.get === undefined) return true;
  const now = Object.getOwnPropertyDescriptor(globalThis, name);
  const value = now?.value as { [REPLACEMENT]?: true } | undefined;
  return typeof value === "function" && value[REPLACEMENT] !== true;
}

let request: typeof Request | undefined;
let response: typeof Response | undefined;
let headers: typeof Headers | undefined;
let fetchFn: typeof fetch | undefined;

/** undici's Request class (loads undici on first call). */
export function nativeRequest(): typeof Request {
  if (request === undefined) request = original<typeof Request>("Request");
  return request;
}

/** undici's Response class (loads undici on first call). */
export function nativeResponse(): typeof Response {
  if (response === undefined) response = original<typeof Response>("Response");
  return response;
}

/** undici's Headers class (loads undici on first call). */
export function nativeHeaders(): typeof Headers {
  if (headers === undefined) headers = original<typeof Headers>("Headers");
  return headers;
}

/** Node's `fetch` (itself loads undici only when called). */
export function nativeFetch(): typeof fetch {
  if (fetchFn === undefined) fetchFn = original<typeof fetch>("fetch");
  return fetchFn;
}
