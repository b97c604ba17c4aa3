/**
 * The trick both lazy facades share (the Request and the lightweight
 * Response): every member of the native class the facade does not define
 * itself becomes a member that builds the native object once and forwards
 * to it, and the facade's prototype chain is pointed at the native
 * prototype, so `instanceof` holds.
 *
 * In two steps, so that undici is not loaded before an app needs it (see
 * natives.ts): the members the Fetch standard names are forwarded from the
 * start ({@link delegateKnownMembers}); the native prototype is linked in,
 * with any member a newer Node has that the lists below lack, once the
 * native class is loaded anyway ({@link delegateMissingMembers}).
 */

/** Members of a native class by kind, as the Fetch standard defines them (and Node 20 to 24 have). */
export interface KnownMembers {
  readonly getters: readonly string[];
  readonly methods: readonly string[];
}

const BODY_METHODS = ["arrayBuffer", "blob", "bytes", "clone", "formData", "json", "text"];

/** Response's members (the Fetch standard's Response and Body). */
export const RESPONSE_MEMBERS: KnownMembers = {
  getters: ["type", "url", "redirected", "status", "ok", "statusText", "headers", "body", "bodyUsed"],
  methods: BODY_METHODS,
};

/** Request's members (the Fetch standard's Request and Body). */
export const REQUEST_MEMBERS: KnownMembers = {
  getters: [
    "method",
    "url",
    "headers",
    "destination",
    "referrer",
    "referrerPolicy",
    "mode",
    "credentials",
    "cache",
    "redirect",
    "integrity",
    "keepalive",
    "isReloadNavigation",
    "isHistoryNavigation",
    "signal",
    "body",
    "bodyUsed",
    "duplex",
  ],
  methods: BODY_METHODS,
};

function forwardGetter<T>(
  facade: { prototype: object },
  name: string,
  enumerable: boolean,
  real: (self: T) => object,
) {
  Object.defineProperty(facade.prototype, name, {
    configurable: true,
    enumerable,
    get(this: T) {
      return (real(this) as Record<string, unknown>)[name];
    },
  });
}

function forwardMethod<T>(facade: { prototype: object }, name: string, real: (self: T) => object) {
  Object.defineProperty(facade.prototype, name, {
    configurable: true,
    writable: true,
    value(this: T, ...args: unknown[]) {
      return (real(this) as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
    },
  });
}

/**
 * Installs forwarding members on `facade` for the `known` members it lacks,
 * and its `Symbol.toStringTag` (`Object.prototype.toString` says
 * `[object Response]` before the native prototype is linked in too);
 * `real(this)` returns the native object to forward to.
 */
export function delegateKnownMembers<T extends object>(
  facade: { prototype: object },
  known: KnownMembers,
  tag: string,
  real: (self: T) => object,
): void {
  // undici's getters are enumerable (WebIDL attributes), its methods not.
  for (const name of known.getters)
    if (!Object.hasOwn(facade.prototype, name)) forwardGetter(facade, name, true, real);
  for (const name of known.methods)
    if (!Object.hasOwn(facade.prototype, name)) forwardMethod(facade, name, real);
  Object.defineProperty(facade.prototype, Symbol.toStringTag, { value: tag, configurable: true });
}

/**
 * Installs forwarding members on `facade` for the getters and methods of
 * `native` it still lacks, and points its prototype chain at `native`'s.
 * `real(this)` returns the native object to forward to.
 */
export function delegateMissingMembers<T extends object>(
  facade: { prototype: object },
  native: { prototype: object },
  real: (self: T) => object,
): void {
  for (const name of Object.getOwnPropertyNames(native.prototype)) {
    if (name === "constructor" || Object.hasOwn(facade.prototype, name)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(native.prototype, name)!;
    if (descriptor.get !== undefined) forwardGetter(facade, name, descriptor.enumerable === true, real);
    else if (typeof descriptor.value === "function") forwardMethod(facade, name, real);
  }
  Object.setPrototypeOf(facade.prototype, native.prototype);
}
