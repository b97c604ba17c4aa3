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
 * A Fetch app: an object with a `fetch` method (Hono, itty-router, Elysia, ...).
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
}
