/**
 * The socket a node:http-style app sees as `req.socket` / `res.socket`: one
 * per connection, reused by its keep-alive requests as node's socket is
 * (pipelined responses wait for it, as node's do). A `Duplex` carrying the connection's facts
 * (addresses and TLS as the Exchange's `ConnectionInfo` gives them, so
 * `--proxy-headers` and the PROXY protocol apply) and the calls apps make
 * on a socket. It moves
 * no bytes: the response goes through the Exchange, and the raw socket is
 * only handed out to an `'upgrade'` listener or to be destroyed.
 */

import { Duplex } from "node:stream";
import { TsgiError } from "../../http1/tsgi-error.ts";
import type { ConnectionInfo } from "../../server/connection-info.ts";
import { ExchangeStateError } from "../../server/errors.ts";
import type { Exchange } from "../../server/exchange.ts";

/** A write to the socket-like object: tsgi keeps the wire, so it is refused. */
export class SocketWriteError extends TsgiError {
  override readonly name = "SocketWriteError";
  readonly code = "TSGI_ERR_SOCKET_WRITE";
}

/**
 * `req.socket` for a connection's exchanges. `'close'` is emitted when the
 * client leaves during an exchange or the app destroys the socket; a socket
 * whose exchange ended normally waits for the connection's next request
 * (see docs/interfaces/node.md).
 */
export class ExchangeSocket extends Duplex {
  remoteAddress: string;
  remotePort: number;
  remoteFamily: string;
  localAddress: string;
  localPort: number;
  /** True on TLS (or behind a trusted proxy that received TLS); writable, as Express tests set it. */
  encrypted: boolean | undefined;
  /** Set by node's `ServerResponse.assignSocket`. */
  _httpMessage: unknown = null;
  /** node's `parser` slot: never a parser here. */
  parser = null;
  /** The exchange in progress on this socket, null between requests. */
  #exchange: Exchange | null = null;
  #timeout: NodeJS.Timeout | null = null;
  /**
   * The pipelined request waiting for the socket: builds its pair and calls
   * the app. One at most: a connection runs one exchange at a time.
   */
  #waiting: (() => void) | null = null;

  constructor(info: ConnectionInfo) {
    super({ allowHalfOpen: true, emitClose: true, autoDestroy: false });
    this.remoteAddress = info.remoteAddress;
    this.remotePort = info.remotePort;
    this.remoteFamily = info.remoteAddress.includes(":") ? "IPv6" : "IPv4";
    this.localAddress = info.localAddress;
    this.localPort = info.localPort;
    this.encrypted = info.tls ? true : undefined;
  }

  /** Not readable by the app: the request body is `req`. */
  override _read(): void {}

  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    callback(
      new SocketWriteError("tsgi owns the connection: write to the response (res.write), not to req.socket"),
    );
  }

  /**
   * Destroying the socket drops the connection (finalhandler does this after
   * an error mid-response), unless the exchange is already over.
   */
  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    this.#clearTimer();
    const ex = this.#exchange;
    if (ex !== null && !ex.finished) {
      try {
        ex.detachSocket(false).socket.destroy();
      } catch {
        ex.fail(
          err ??
            new ExchangeStateError("the app destroyed the socket, and this connection cannot hand it over"),
        );
      }
    }
    // node's socket would emit `err` as 'error' to the server's listener;
    // here nobody may be listening, and the app already knows.
    callback(null);
  }

  /** Starts an exchange on this socket (the connection's previous one is over: its timer goes). */
  attach(exchange: Exchange): void {
    this.#clearTimer();
    this.#exchange = exchange;
  }

  /** Holds a pipelined request's `start` until the response holding the socket finishes. */
  wait(start: () => void): void {
    if (this.#waiting !== null)
      throw new ExchangeStateError("a pipelined request is already waiting for this socket");
    this.#waiting = start;
  }

  /** The waiting request's `start`, now taken, or null. */
  takeWaiting(): (() => void) | null {
    const start = this.#waiting;
    this.#waiting = null;
    return start;
  }

  /** Forgets `start` if it is the one waiting; false if it was not. */
  dropWaiting(start: () => void): boolean {
    if (this.#waiting !== start) return false;
    this.#waiting = null;
    return true;
  }

  /**
   * `exchange` ended with its response complete: its timer goes, and the
   * socket waits for the connection's next request.
   */
  exchangeDone(exchange: Exchange): void {
    if (this.#exchange !== exchange) return;
    this.#clearTimer();
    this.#exchange = null;
  }

  /** The client left during `exchange`: emits `'close'` (once), as node's socket does. */
  clientGone(exchange: Exchange): void {
    if (this.#exchange !== exchange) return;
    this.#clearTimer();
    // Nothing to drop (`_destroy` sees the exchange finished), only 'close' to emit.
    if (!this.destroyed) super.destroy();
  }

  address(): { address: string; family: string; port: number } {
    return {
      address: this.localAddress,
      family: this.localAddress.includes(":") ? "IPv6" : "IPv4",
      port: this.localPort,
    };
  }

  /**
   * An idle timer on this exchange: `'timeout'` after `ms` (0 clears it).
   * tsgi's own timeouts still apply to the connection.
   */
  setTimeout(ms: number, callback?: () => void): this {
    this.#clearTimer();
    if (callback !== undefined) this.once("timeout", callback);
    if (ms > 0) {
      this.#timeout = setTimeout(() => {
        // As node's socketOnTimeout: the response hears of it too.
        this.emit("timeout");
        (this._httpMessage as { emit?(event: string, socket: unknown): boolean } | null)?.emit?.(
          "timeout",
          this,
        );
      }, ms);
      this.#timeout.unref();
    }
    return this;
  }

  /** tsgi sets TCP_NODELAY on every connection already. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Accepted and ignored: keep-alive probes are the server's business. */
  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  #clearTimer(): void {
    if (this.#timeout !== null) clearTimeout(this.#timeout);
    this.#timeout = null;
  }
}
