/**
 * listen() takeover, as Phusion Passenger does for Node apps: while tsgi
 * imports an app module (`server.js` ending with `app.listen(3000)`), the
 * first `listen()` called on an HTTP server does not bind. tsgi keeps that
 * server and serves it on its own addresses like an exported `http.Server`
 * made but not listened; once tsgi listens, the server hears `'listening'`
 * (so the listen callback runs) and `address()` reports tsgi's address.
 * See docs/interfaces/node.md ("listen() takeover") for the rules.
 */

import { Server as HttpServer } from "node:http";
import { type AddressInfo, Server as NetServer } from "node:net";
import { TsgiError } from "../../http1/tsgi-error.ts";

/** The first `listen()` of the app module cannot be taken over (an HTTPS server). */
export class ListenTakeoverError extends TsgiError {
  override readonly name = "ListenTakeoverError";
  readonly code = "TSGI_ERR_LISTEN_TAKEOVER";
}

type Listen = (this: NetServer, ...args: unknown[]) => NetServer;

/** What kind of server a `listen()` was called on. */
function kindOf(server: NetServer): "http" | "https" | "other" {
  // tsgi/node's Server and SecureServer extend net.Server and tls.Server, not
  // node's classes: they are recognised by node's `maxHeadersCount`, as detect.ts does.
  // A TLS server (https.Server, tls.Server) is known by tls.Server's own
  // method: importing node:tls and node:https for an instanceof would load
  // them (about 1.6 MiB of resident memory) into every tsgi process.
  const httpLike = server instanceof HttpServer || "maxHeadersCount" in server;
  if (httpLike && typeof (server as { addContext?: unknown }).addContext === "function") return "https";
  return httpLike ? "http" : "other";
}

/** `listen(3000)`, `listen({ port: 3000 })`, ... as one phrase for the log. */
export function describeListen(args: readonly unknown[]): string {
  const first = args[0];
  if (typeof first === "number" || (typeof first === "string" && /^[0-9]+$/.test(first)))
    return `port ${first}`;
  if (typeof first === "string") return first;
  if (first !== null && typeof first === "object") {
    const o = first as { port?: unknown; path?: unknown; host?: unknown };
    if (o.path !== undefined) return String(o.path);
    if (o.port !== undefined) return `port ${String(o.port)}`;
  }
  return "no address";
}

/**
 * One takeover, for one import of one app module. `install()` patches
 * `net.Server.prototype.listen` (which `http.Server`, `https.Server` and
 * tsgi/node's servers all inherit; Express's `app.listen()` and Koa's call
 * it through `http.createServer(...).listen(...)`), `restore()` puts it back.
 * Plain `net` servers (not HTTP) always listen as usual.
 *
 * @example
 * const takeover = new ListenTakeover("server.js", (line) => logger.info(line));
 * takeover.install();
 * const imported = import("./server.js");
 * await Promise.race([imported, takeover.first]);
 * takeover.restore();
 * const server = takeover.result(); // null: no listen() (yet)
 * // serve takeover.server, then: takeover.listening(() => tsgiServer.address)
 */
export class ListenTakeover {
  /** The server whose `listen()` was taken, once one was. */
  server: NetServer | null = null;
  /** What the app asked for (`port 3000`), for the log. */
  asked = "";
  #refused: ListenTakeoverError | null = null;
  #original: PropertyDescriptor | undefined;
  #settle!: () => void;
  /**
   * Resolves when the first `listen()` comes (taken or refused): possibly
   * while the import is still running, as with `await app.listen()` at the
   * top level, whose import finishes only once tsgi listens.
   */
  readonly first = new Promise<void>((resolve) => {
    this.#settle = resolve;
  });
  readonly #module: string;
  readonly #log: (line: string) => void;
  readonly #planned: AddressInfo | string | null;

  /**
   * `module` names the app in messages; `log` gets one info line per
   * decision; `planned` is what `address()` answers between the taken
   * `listen()` and tsgi listening (node binds synchronously, and apps read
   * `server.address().port` right after `listen()`): tsgi's first address
   * when it is known before binding, else null (port 0, an inherited fd).
   */
  constructor(module: string, log: (line: string) => void, planned: AddressInfo | string | null = null) {
    this.#module = module;
    this.#log = log;
    this.#planned = planned;
  }

  /** The first `listen()` came: taken, or refused. */
  get settled(): boolean {
    return this.server !== null || this.#refused !== null;
  }

  /** Starts intercepting `listen()`. */
  install(): void {
    if (this.#original !== undefined) return;
    const proto = NetServer.prototype as unknown as { listen: Listen };
    this.#original = Object.getOwnPropertyDescriptor(proto, "listen")!;
    const original = this.#original.value as Listen;
    const takeover = this;
    proto.listen = function listen(this: NetServer, ...args: unknown[]): NetServer {
      return takeover.#intercept(this, args, original);
    };
  }

  /** Stops intercepting: later `listen()` calls bind as node's do. */
  restore(): void {
    if (this.#original === undefined) return;
    Object.defineProperty(NetServer.prototype, "listen", this.#original);
    this.#original = undefined;
  }

  #intercept(server: NetServer, args: unknown[], original: Listen): NetServer {
    const kind = kindOf(server);
    if (kind === "other") return original.apply(server, args);
    if (this.server !== null || this.#refused !== null) {
      // A second server (an admin port, a metrics endpoint) is the app's own business.
      this.#log(`${this.#module} called listen(${describeListen(args)}) again: that server binds itself`);
      return original.apply(server, args);
    }
    if (kind === "https") {
      // Serving it as plain HTTP would silently drop its TLS; binding it ourselves
      // would leave tsgi nothing to serve. Nothing binds; startup fails with this.
      this.#refused = new ListenTakeoverError(
        `${this.#module} calls listen() on an https.Server: tsgi cannot take that over; ` +
          "export the app instead and serve HTTPS with --ssl-certfile and --ssl-keyfile " +
          "(or run with --no-listen-takeover to let it bind itself)",
      );
      this.#settle();
      return server;
    }
    this.server = server;
    this.asked = describeListen(args);
    // node's listen(): a trailing function is a 'listening' listener.
    const callback = args.at(-1);
    if (typeof callback === "function") server.once("listening", callback as () => void);
    this.#dress(server);
    this.#settle();
    return server;
  }

  /**
   * Own properties that make the server look like node's while tsgi serves
   * it: `address()` (the planned address until tsgi listens), `listening`, and `close(cb)`, which does not stop tsgi (its socket is
   * tsgi's) but runs `cb` once tsgi has stopped, with `'close'`.
   */
  #dress(server: NetServer): void {
    const planned = this.#planned;
    Object.defineProperty(server, "address", {
      configurable: true,
      writable: true,
      value: () => (planned === null || typeof planned === "string" ? planned : { ...planned }),
    });
    Object.defineProperty(server, "listening", { configurable: true, writable: true, value: false });
    Object.defineProperty(server, "close", {
      configurable: true,
      writable: true,
      value(callback?: (err?: Error) => void) {
        if (typeof callback === "function") server.once("close", callback);
        return server;
      },
    });
  }

  /**
   * The server of the first `listen()`, or null if none came yet.
   * @throws ListenTakeoverError if that listen was on an HTTPS server.
   */
  result(): NetServer | null {
    if (this.#refused !== null) throw this.#refused;
    return this.server;
  }
}
