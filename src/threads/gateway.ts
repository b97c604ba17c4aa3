/**
 * The server handler for `--threads`: reads each request body whole on the
 * main thread (a synchronous app cannot wait for the network), gathers it
 * into one buffer the pool can transfer, and hands the exchange to the pool.
 */

import type { Exchange } from "../server/exchange.ts";
import type { Handler } from "../server/server.ts";
import type { ThreadPool } from "./pool.ts";

/**
 * Turns a started {@link ThreadPool} into a server handler.
 *
 * @example
 * const server = new Server(threadedGateway(pool), options, logger);
 */
export function threadedGateway(pool: ThreadPool): Handler {
  return (ex: Exchange) => {
    if (ex.request.framing === "none") {
      pool.run(ex, new ArrayBuffer(0), []);
      return;
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    ex.readBody({
      data(chunk) {
        chunks.push(chunk);
        size += chunk.byteLength;
      },
      end(trailers) {
        // The chunks view socket buffers we may not give away, so this one
        // copy into a fresh buffer is what makes the transfer possible.
        const body = new ArrayBuffer(size);
        const view = new Uint8Array(body);
        let offset = 0;
        for (const chunk of chunks) {
          view.set(chunk, offset);
          offset += chunk.byteLength;
        }
        pool.run(ex, body, trailers);
      },
      error() {
        // The connection already answered (413, 400, 408) or the client left.
      },
    });
  };
}
