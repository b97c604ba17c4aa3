/**
 * A WSGI-style app that blocks for 100 ms on every request, as a synchronous
 * database call or a slow library would: `Atomics.wait` sleeps the calling
 * thread without using the CPU. On the event loop it serves one request at a
 * time (10 per second); `--threads N` or `--workers N` serve N at a time.
 * `npm run bench:concurrency` measures exactly that (docs/concurrency.md).
 *
 *   npx tsgi --threads 8 examples/blocking_app.ts
 *   curl -i http://127.0.0.1:8000/
 */

import { threadId } from "node:worker_threads";
import type { Environ, StartResponse, WSGIResult } from "tsgi";

/** How long each request blocks, in milliseconds. */
export const BLOCK_MS = 100;

// Nobody ever notifies this cell, so each wait lasts its full timeout.
const cell = new Int32Array(new SharedArrayBuffer(4));

export default function app(_environ: Environ, startResponse: StartResponse): WSGIResult {
  Atomics.wait(cell, 0, 0, BLOCK_MS);
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [`blocked ${BLOCK_MS} ms in process ${process.pid}, thread ${threadId}\n`];
}
