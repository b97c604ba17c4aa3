/**
 * A Fetch app that waits 100 ms on every request, as an app awaiting a
 * database or another service would: the wait is a timer, so the event loop
 * serves other requests meanwhile and one thread keeps thousands in flight.
 * The counterpart of examples/blocking_app.ts in `npm run bench:concurrency`.
 *
 *   npx tsgi examples/sleepy_fetch_app.ts
 *   curl -i http://127.0.0.1:8000/
 */

import { setTimeout as sleep } from "node:timers/promises";

/** How long each request waits, in milliseconds. */
export const SLEEP_MS = 100;

export default {
  async fetch(): Promise<Response> {
    await sleep(SLEEP_MS);
    return new Response(`waited ${SLEEP_MS} ms in process ${process.pid}\n`, {
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  },
};
