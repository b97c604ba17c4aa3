/**
 * The trick both lazy facades share (the Request and the lightweight
 * Response): every member of the native class the facade does not define
 * itself becomes a member that builds the native object once and forwards
 * to it. Then the facade's prototype chain is pointed at the native
 * prototype, so `instanceof` holds.
 */

/**
 * Installs forwarding members on `facade` for the getters and methods of
 * `native` it lacks; `real(this)` returns the native object to forward to.
 */
export function delegateMissingMembers<T extends object>(
  facade: { prototype: object },
  native: { prototype: object },
  real: (self: T) => object,
): void {
  for (const name of Object.getOwnPropertyNames(native.prototype)) {
    if (name === "constructor" || Object.hasOwn(facade.prototype, name)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(native.prototype, name)!;
    if (descriptor.get !== undefined) {
      Object.defineProperty(facade.prototype, name, {
        configurable: true,
        enumerable: descriptor.enumerable,
        get(this: T) {
          return (real(this) as Record<string, unknown>)[name];
        },
      });
    } else if (typeof descriptor.value === "function") {
      Object.defineProperty(facade.prototype, name, {
        configurable: true,
        writable: true,
        value(this: T, ...args: unknown[]) {
          return (real(this) as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
        },
      });
    }
  }
  Object.setPrototypeOf(facade.prototype, native.prototype);
}
