/**
 * Keeps the hidden classes of `process.nextTick`'s queue records alive for
 * the life of the process, so a server that has idled does not come back
 * slower for good.
 *
 * Node builds each nextTick record with an object literal whose first two
 * keys are computed (its async-id symbols). V8 adds those properties through
 * map transitions and remembers, in the literal's feedback, the map it saw,
 * holding that map weakly. While a server is busy some record is always
 * alive, and so are the maps. When it idles, none is, and the full
 * collections V8's memory reducer runs after a few idle seconds free them.
 * The next record gets new maps; the feedback, seeing a map other than the
 * one it knew, turns megamorphic and never goes back, and from then on every
 * nextTick defines its properties in the V8 runtime instead of in optimized
 * code (about 30 times slower for the literal alone). Every Readable and
 * Writable schedules several ticks per request: measured here, node:http's
 * hello world went from 18 to 27 µs of user CPU per request after six forced
 * full GCs, and stayed there (docs/performance.md, "A cliff after idling").
 *
 * One record of each kind (with and without `args`), reachable for good,
 * keeps every map of the chain alive (each map holds the one before it), so
 * the feedback stays monomorphic. The records are caught by an async_hooks
 * `init` hook that is enabled only around two nextTick calls.
 *
 * Process-wide state, so it lives in this module: every server in the
 * process shares the one `process.nextTick`.
 */

import { createHook } from "node:async_hooks";

/** The records kept, once taken. */
let held: readonly object[] | null = null;

function noop(): void {}

/**
 * Takes and keeps one nextTick record of each kind; later calls do nothing.
 * Returns the records (kept for good; tests compare their maps).
 */
export function holdTickShape(): readonly object[] {
  if (held !== null) return held;
  const records: object[] = [];
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === "TickObject") records.push(resource as object);
    },
  });
  hook.enable();
  try {
    process.nextTick(noop);
    process.nextTick(noop, 0);
  } finally {
    hook.disable();
  }
  held = records;
  return held;
}
