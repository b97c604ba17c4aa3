/**
 * Server settings with their defaults in one object. Each timeout says why it
 * has its default and which server it follows, so operators can judge a change.
 */

import { DEFAULT_LIMITS, type ParserLimits } from "../http1/limits.ts";
import type { LogLevel } from "./log.ts";
import { DEFAULT_FORWARDED_ALLOW_IPS } from "./proxy-headers.ts";
import type { SocketReadMode } from "./socket-reads.ts";
import type { TlsOptions } from "./tls.ts";
import type { TraceMode } from "./trace.ts";

/** Timeouts in milliseconds; 0 disables one. */
export interface Timeouts {
  /**
   * Time a client has to send a complete request head, counted from its first
   * byte (or from accept for the first request). Guards against slowloris.
   * Default 10 s; Node's `headersTimeout` is 60 s, nginx's `client_header_timeout` 60 s,
   * which lets a slow attacker hold a connection six times longer.
   */
  headerTimeout: number;
  /**
   * Longest silence while the app waits for request body bytes. An upload that
   * keeps sending is never cut; a stalled one is. Default 30 s.
   */
  bodyTimeout: number;
  /**
   * Idle time allowed between requests on a keep-alive connection. Default
   * 75 s (nginx's `keepalive_timeout`): longer than common load balancers'
   * idle timeouts (60 s), so the balancer, not us, closes an idle connection
   * and never sends a request on one we are closing.
   */
  keepAliveTimeout: number;
  /**
   * Longest time a response write may stay blocked because the client does
   * not read. A streaming response that keeps flowing is never cut. Default 60 s.
   */
  sendTimeout: number;
  /**
   * After a response that closes the connection, how long we keep reading
   * and discarding what the client still sends, so its unread bytes do not
   * make the kernel reset the connection and destroy our response. Default 2 s.
   */
  lingerTimeout: number;
  /** How long `close()` lets in-flight requests finish before forcing connections closed. Default 30 s, as gunicorn. */
  gracefulTimeout: number;
  /**
   * Interval of the server's WebSocket pings; a peer that does not answer
   * within `wsPingTimeout` is closed with 1011. Default 20 s, as uvicorn:
   * well under the 60 s idle timeout of common proxies and load balancers.
   */
  wsPingInterval: number;
  /** How long a ping may go unanswered. Default 20 s, as uvicorn. */
  wsPingTimeout: number;
  /** How long we wait for the peer's close frame after sending ours. Default 5 s. */
  wsCloseTimeout: number;
}

/** WebSocket settings besides the timeouts (see docs/websocket.md). */
export interface WebSocketOptions {
  /**
   * Largest message accepted, after decompression, in bytes; a bigger one
   * closes the connection with 1009. Default 16 MiB, as uvicorn.
   */
  wsMaxMessageSize: number;
  /**
   * Most bytes a WebSocket may have waiting to be sent. Past it the peer is
   * taken as not reading and the connection is dropped, so a stalled reader
   * cannot grow the server's memory. Default 16 MiB; 0 for no limit.
   */
  wsMaxBufferedBytes: number;
  /** Most WebSockets open at once; more handshakes get 503. Default 0 (no limit). */
  wsMaxConnections: number;
  /** Offer permessage-deflate (RFC 7692) to clients that ask for it. Default false, as compression costs CPU and memory per connection. */
  wsPerMessageDeflate: boolean;
  /** Messages shorter than this are sent uncompressed even with deflate on. Default 1024 bytes. */
  wsCompressionThreshold: number;
}

/** Everything `serve()` and the CLI can set. */
export interface ServerOptions extends Timeouts, WebSocketOptions {
  /** Interface to bind. Default "127.0.0.1". */
  host: string;
  /** Port to bind; 0 picks a free one. Default 8000. */
  port: number;
  /**
   * Addresses to listen on, each `HOST:PORT`, `[IPV6]:PORT`, `unix:PATH` or
   * `fd://N` (see src/server/listen.ts). When not empty, `host` and `port`
   * are not used. Default [] (listen on `host`:`port`).
   */
  bind: readonly string[];
  /** Permissions given to unix socket files once bound, e.g. 0o660; null leaves the umask's. Default null. */
  udsMode: number | null;
  /** Serve TLS on every address (see {@link TlsOptions}); null for plain HTTP. Default null. */
  tls: TlsOptions | null;
  /**
   * Read the client's address, scheme and host from `X-Forwarded-For`,
   * `-Proto`, `-Host` (or RFC 7239 `Forwarded`) when the peer is in
   * `forwardedAllowIps`. Default false, as a server reachable directly must
   * not believe what clients say about themselves.
   */
  proxyHeaders: boolean;
  /**
   * Peers trusted to speak for clients (proxy headers and the PROXY
   * protocol): comma-separated IP addresses, CIDR blocks, `unix` (unix
   * socket peers) or `*`. Default "127.0.0.1,::1,unix", this machine only.
   */
  forwardedAllowIps: string;
  /**
   * Expect a PROXY protocol (v1 or v2) header before the first byte from
   * trusted peers; a trusted peer without a valid one is disconnected. Default false.
   */
  proxyProtocol: boolean;
  /** Request size limits (see {@link ParserLimits}). */
  limits: ParserLimits;
  /**
   * Most bytes of an unread request body the server reads and discards so the
   * connection can carry the next request; past that it closes instead.
   * Default 64 KiB, close to what Node's http server tolerates.
   */
  maxDrainSize: number;
  /**
   * Received-but-unprocessed bytes (pipelined requests, body the app has not
   * read yet) above which the server stops reading from the socket. Default 64 KiB.
   */
  maxBufferedBytes: number;
  /**
   * Most connections (HTTP and WebSocket) served at once; a connection beyond
   * it gets 503 with `Retry-After: 1` for its request and is closed. Default 0
   * (no limit), as uvicorn's `--limit-concurrency`.
   */
  limitConcurrency: number;
  /** `Server` header value; null sends none. Default "tsgi". */
  serverHeader: string | null;
  /** Log one line per request to stdout. Default true. */
  accessLog: boolean;
  /** Least severe message written to stderr. Default "info". */
  logLevel: LogLevel;
  /**
   * How plain TCP sockets are read (src/server/socket-reads.ts): "buffer"
   * reads every connection into one shared buffer through net.Socket's
   * `onread` path where Node supports it; "stream" uses `'data'` events.
   * `TSGI_SOCKET_READS=stream` in the environment forces "stream" whatever
   * this says. TLS sockets are always read as streams. Default "buffer".
   */
  socketReads: SocketReadMode;
  /** `--trace`: "on" writes every connection's lifecycle to stderr, "bytes" adds what was read. Default "off". */
  trace: TraceMode;
}

/** The defaults documented on {@link ServerOptions} and {@link Timeouts}. */
export const DEFAULT_OPTIONS: Readonly<ServerOptions> = Object.freeze({
  host: "127.0.0.1",
  port: 8000,
  bind: [] as readonly string[],
  udsMode: null as number | null,
  tls: null as TlsOptions | null,
  proxyHeaders: false,
  forwardedAllowIps: DEFAULT_FORWARDED_ALLOW_IPS,
  proxyProtocol: false,
  limits: DEFAULT_LIMITS,
  headerTimeout: 10_000,
  bodyTimeout: 30_000,
  keepAliveTimeout: 75_000,
  sendTimeout: 60_000,
  lingerTimeout: 2_000,
  gracefulTimeout: 30_000,
  wsPingInterval: 20_000,
  wsPingTimeout: 20_000,
  wsCloseTimeout: 5_000,
  wsMaxMessageSize: 16 * 1024 * 1024,
  wsMaxBufferedBytes: 16 * 1024 * 1024,
  wsMaxConnections: 0,
  wsPerMessageDeflate: false,
  wsCompressionThreshold: 1024,
  maxDrainSize: 64 * 1024,
  maxBufferedBytes: 64 * 1024,
  limitConcurrency: 0,
  serverHeader: "tsgi",
  accessLog: true,
  logLevel: "info" as LogLevel,
  trace: "off" as TraceMode,
  socketReads: "buffer" as SocketReadMode,
});

/** Options as a caller may pass them: any subset, limits included. */
export type ServeOptions = Partial<Omit<ServerOptions, "limits">> & { limits?: Partial<ParserLimits> };

/** Fills in defaults. */
export function resolveOptions(options: ServeOptions = {}): ServerOptions {
  const resolved: ServerOptions = { ...DEFAULT_OPTIONS, limits: { ...DEFAULT_LIMITS } };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && key !== "limits")
      (resolved as unknown as Record<string, unknown>)[key] = value;
  }
  for (const [key, value] of Object.entries(options.limits ?? {})) {
    if (value !== undefined) (resolved.limits as unknown as Record<string, unknown>)[key] = value;
  }
  return resolved;
}
