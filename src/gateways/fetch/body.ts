/**
 * The request body for Fetch apps: a ReadableStream that pulls from the
 * exchange with backpressure (the socket stops being read while the app does
 * not read), and a collector for `text()`/`json()`/`arrayBuffer()` that skips
 * the stream machinery. Either way, reading is what sends `100 Continue`.
 */

import type { Exchange } from "../../server/exchange.ts";

const EMPTY = new Uint8Array(0);

/** A stream of the request body. Nothing is read until the app pulls. */
export function bodyStream(ex: Exchange): ReadableStream<Uint8Array> {
  let started = false;
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (started) {
          ex.resumeBody();
          return;
        }
        started = true;
        ex.readBody({
          data(chunk) {
            if (cancelled) return;
            // The parser never reuses the memory behind a chunk, so it is enqueued as is.
            controller.enqueue(chunk);
            if ((controller.desiredSize ?? 0) <= 0) ex.pauseBody();
          },
          end() {
            if (!cancelled) controller.close();
          },
          error(err) {
            if (!cancelled) controller.error(err);
          },
        });
      },
      cancel() {
        // The app lost interest: drop the rest. The connection drains or closes after the response.
        cancelled = true;
        if (started) ex.resumeBody();
      },
    },
    // No read-ahead: a stream with room in its queue is pulled as soon as it is
    // built, and building the real Request builds this stream, which would send
    // 100 Continue (and read) for an app that never touches the body.
    { highWaterMark: 0 },
  );
}

/** Reads the whole body into one buffer (bounded by the server's maxBodySize). */
export function collectBody(ex: Exchange): Promise<Uint8Array> {
  if (ex.request.framing === "none") return Promise.resolve(EMPTY);
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    ex.readBody({
      data: (chunk) => chunks.push(chunk),
      end: () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
      error: reject,
    });
  });
}
