/**
 * The types of the Fetch interface: the Web-standard handler shape that Hono,
 * itty-router, Elysia and others build, and that Bun, Deno and Cloudflare call.
 * docs/interfaces/fetch.md specifies it in prose.
 */

/** Facts about the connection a request arrived on, passed as the handler's second argument. */
export interface FetchInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Whether the connection is TLS. */
  readonly tls: boolean;
}

/** A function from Request to Response. */
export type FetchHandler = (request: Request, info: FetchInfo) => Response | Promise<Response>;

/**
 * A Fetch app: an object with a `fetch` method (Hono, itty-router, Elysia, ...),
 * and optionally lifespan hooks: `startup()` runs (and is awaited) before the
 * server accepts its first connection, `shutdown()` after `close()` has
 * closed the last one. Both are bounded by `--startup-timeout` and
 * `--shutdown-timeout`; a hook that throws stops the server (exit status 1).
 * See docs/interfaces/fetch.md.
 *
 * @example
 * export default {
 *   fetch(request: Request) {
 *     return new Response(`Hello from ${new URL(request.url).pathname}\n`);
 *   },
 * };
 */
export interface FetchApp {
  fetch: FetchHandler;
  /** Called once before the server listens, e.g. to open a database pool. */
  startup?(): void | Promise<void>;
  /** Called once after the server closed its last connection, e.g. to close the pool. */
  shutdown?(): void | Promise<void>;
}
