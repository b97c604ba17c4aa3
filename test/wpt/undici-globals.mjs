/**
 * Preload for test/wpt/newer-undici.test.ts: puts the `undici` package's
 * classes (undici 7, the line Node 22+ bundle, whose Request and Response
 * keep their state in private `#` fields) in the globals before tsgi
 * captures them, so Node 20 can check what Node 24 will see.
 */
import { FormData, fetch, Headers, Request, Response } from "undici";

for (const [name, value] of Object.entries({ Request, Response, Headers, FormData, fetch })) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
}
