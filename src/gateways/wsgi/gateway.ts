/**
 * The WSGI-style gateway: runs a PEP 3333 app for each exchange. The
 * lifecycle follows CPython's wsgiref `BaseHandler.run`: build the environ,
 * call the app, iterate its result, send the head with the first non-empty
 * chunk, always call `close()`, answer 500 only if the head is not out yet.
 * Unlike wsgiref it never blocks: when the socket is full it stops iterating
 * until the socket drains.
 */

import type { ResponseHead } from "../../http1/events.ts";
import { TsgiError } from "../../http1/tsgi-error.ts";
import type { Exchange } from "../../server/exchange.ts";
import type { Logger } from "../../server/log.ts";
import type { Handler } from "../../server/server.ts";
import { buildEnviron, type EnvironFlags } from "./environ.ts";
import type { StartResponse, WSGIApp, WSGIErrors, WSGIHeader, WSGIResult, WSGIWrite } from "./types.ts";

/** Thrown (and logged) when an app breaks the WSGI-style contract in a way the gateway must refuse. */
export class WSGIGatewayError extends TsgiError {
  override readonly name = "WSGIGatewayError";
  readonly code = "TSGI_ERR_WSGI_CONTRACT";
}

const EMPTY = new Uint8Array(0);
const STATUS_RE = /^([1-9][0-9]{2}) (.*)$/s;

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  throw new WSGIGatewayError(
    `response body chunks must be Uint8Array or string, got ${chunk === null ? "null" : typeof chunk}` +
      (typeof chunk === "number" ? " (did the app return a Buffer instead of [buffer]?)" : ""),
  );
}

/**
 * `wsgi.errors` for one request: text goes to the server log, one entry per
 * line. A partial line waits for its end, for flush(), or for the end of the
 * request; one stream per request keeps requests' partial lines apart.
 */
class ErrorStream implements WSGIErrors {
  private partial = "";

  constructor(private readonly logger: Logger) {}

  write(text: string): void {
    const lines = (this.partial + String(text)).split("\n");
    this.partial = lines.pop()!;
    for (const line of lines) this.logger.log("error", line);
  }

  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  }

  flush(): void {
    if (this.partial !== "") this.logger.log("error", this.partial);
    this.partial = "";
  }
}

/** One app invocation: the state `startResponse`, `write` and the result iteration share. */
class WSGIRun {
  private head: ResponseHead | null = null;
  private result: WSGIResult | null = null;
  private iterator: Iterator<unknown> | null = null;
  private closed = false;

  readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (excInfo !== undefined && excInfo !== null) {
      // PEP 3333: with exc_info after the head went out, re-raise the app's error.
      if (this.ex.headersSent) throw excInfo;
    } else if (this.head !== null) {
      throw new WSGIGatewayError("startResponse() called a second time without excInfo");
    }
    this.head = parseHead(status, headers);
    if (this.ex.tracer !== null) {
      const lines = (headers as WSGIHeader[]).map(([n, v]) => `${n}: ${v}`);
      this.ex.trace("app", [`startResponse("${status}", headers):`, ...lines].join("\n"));
    }
    return this.write;
  };

  /** The legacy write(): sends at once (buffered by the socket; it cannot block the loop). */
  private readonly write: WSGIWrite = (data) => {
    if (this.head === null) throw new WSGIGatewayError("write() called before startResponse()");
    const bytes = toBytes(data);
    if (bytes.length === 0) return;
    if (!this.ex.headersSent) this.ex.respond(this.head);
    this.ex.write(bytes);
  };

  constructor(
    private readonly ex: Exchange,
    private readonly logger: Logger,
    private readonly errors: ErrorStream,
  ) {}

  run(app: WSGIApp, environ: Parameters<WSGIApp>[0]): void {
    const ex = this.ex;
    if (ex.tracer !== null) traceEnviron(ex, environ);
    try {
      const result = app(environ, this.startResponse);
      this.result = result;
      if (ex.tracer !== null) {
        const kind = Array.isArray(result)
          ? `an array of ${result.length} chunk(s): one write with Content-Length`
          : "an iterable: chunks are written as they come";
        ex.trace("app", `returned ${kind}`);
      }
      if (result === null || typeof result !== "object" || typeof result[Symbol.iterator] !== "function") {
        const hint =
          typeof (result as { then?: unknown } | null)?.then === "function"
            ? " (it returned a Promise: WSGI apps are synchronous; async apps need the Fetch or ASGI interface)"
            : "";
        throw new WSGIGatewayError(`the app must return an iterable of body chunks${hint}`);
      }
      if (Array.isArray(result)) {
        this.sendArray(result); // complete before this call returns
      } else {
        // Iteration may wait for 'drain': stop it if the client goes away meanwhile.
        ex.onClientGone(() => this.close());
        this.iterator = result[Symbol.iterator]();
        this.pull();
      }
    } catch (err) {
      this.close();
      if (!ex.finished) ex.fail(err);
    }
  }

  /** Fast path: an array has a known length, so send one buffer with Content-Length. */
  private sendArray(chunks: unknown[]): void {
    const ex = this.ex;
    if (ex.headersSent) {
      // The app used write(): keep streaming.
      for (const chunk of chunks) this.write(chunk as Uint8Array);
      this.close();
      ex.end();
      return;
    }
    let body: Uint8Array;
    if (chunks.length === 1) body = toBytes(chunks[0]);
    else if (chunks.length === 0) body = EMPTY;
    else body = Buffer.concat(chunks.map(toBytes));
    this.close();
    ex.respond(this.requireHead(body.length > 0), body);
  }

  /** Iterates the result until done or the socket is full, then waits for 'drain'. */
  private readonly pull = (): void => {
    const ex = this.ex;
    if (ex.finished) return;
    try {
      const iterator = this.iterator;
      if (iterator === null) return; // closed while waiting for 'drain'
      for (;;) {
        const step = iterator.next();
        if (step.done) {
          this.iterator = null;
          break;
        }
        const bytes = toBytes(step.value);
        if (bytes.length === 0) continue;
        if (!ex.headersSent) ex.respond(this.requireHead(true));
        if (!ex.write(bytes)) {
          ex.onDrain(this.pull);
          return;
        }
        if (ex.finished) return; // the client went away during write
      }
      this.close();
      if (ex.headersSent) ex.end();
      else ex.respond(this.requireHead(false), EMPTY);
    } catch (err) {
      this.close();
      if (!ex.finished) ex.fail(err);
    }
  };

  private requireHead(body: boolean): ResponseHead {
    if (this.head === null) {
      throw new WSGIGatewayError(
        body
          ? "the app produced a body before calling startResponse()"
          : "the app returned without calling startResponse()",
      );
    }
    return this.head;
  }

  /**
   * Calls the result's close() exactly once (PEP 3333: always, also on
   * error). Its own failure is logged and changes nothing: the body the app
   * produced is complete and is still sent whole.
   */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    // A generator abandoned midway (client gone, error) is JavaScript's
    // unfinished for-of: return() runs its finally blocks.
    const iterator = this.iterator;
    this.iterator = null;
    if (iterator !== null && typeof iterator.return === "function") {
      try {
        iterator.return();
      } catch (err) {
        this.logger.error("the result's iterator failed to stop", err);
      }
    }
    const result = this.result;
    if (result !== null && typeof result.close === "function") {
      try {
        result.close();
      } catch (err) {
        const { method, target } = this.ex.request;
        this.logger.error(`close() of the result for ${method} ${target} failed`, err);
      }
    }
    this.errors.flush();
  }
}

/** The environ keys a reader learns the most from, for `--trace`. */
const TRACED_KEYS = [
  "REQUEST_METHOD",
  "SCRIPT_NAME",
  "PATH_INFO",
  "QUERY_STRING",
  "SERVER_PROTOCOL",
  "CONTENT_TYPE",
  "CONTENT_LENGTH",
  "REMOTE_ADDR",
  "wsgi.url_scheme",
];

function traceEnviron(ex: Exchange, environ: Parameters<WSGIApp>[0]): void {
  const env = environ as unknown as Record<string, unknown>;
  const lines = TRACED_KEYS.filter((k) => env[k] !== undefined && env[k] !== "").map(
    (k) => `${k}: ${JSON.stringify(env[k])}`,
  );
  const http = Object.keys(env).filter((k) => k.startsWith("HTTP_"));
  lines.push(`${http.length} HTTP_* keys; wsgi.input holds the whole body, read before the call`);
  ex.trace("gateway", ["WSGI-style: environ built", ...lines].join("\n"));
  ex.trace("app", "calling app(environ, startResponse)");
}

/** Parses `startResponse`'s status line and header list into a response head. */
function parseHead(status: unknown, headers: unknown): ResponseHead {
  if (typeof status !== "string") throw new WSGIGatewayError("status must be a string like '200 OK'");
  const match = STATUS_RE.exec(status);
  if (match === null)
    throw new WSGIGatewayError(`invalid status ${JSON.stringify(status)}: expected e.g. '200 OK'`);
  if (!Array.isArray(headers)) throw new WSGIGatewayError("headers must be an array of [name, value] pairs");
  const flat: string[] = new Array(headers.length * 2);
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i] as WSGIHeader;
    if (
      !Array.isArray(pair) ||
      pair.length !== 2 ||
      typeof pair[0] !== "string" ||
      typeof pair[1] !== "string"
    ) {
      throw new WSGIGatewayError("each header must be a [name, value] pair of strings");
    }
    flat[2 * i] = pair[0];
    flat[2 * i + 1] = pair[1];
  }
  return { status: Number(match[1]), reason: match[2], headers: flat };
}

/** Options of {@link wsgiGateway}. */
export interface WSGIGatewayOptions {
  /** Logger for `wsgi.errors` and app errors. */
  logger: Logger;
  /** `wsgi.multithread` / `wsgi.multiprocess`. Default both false. */
  flags?: Partial<EnvironFlags>;
}

/**
 * Turns a WSGI-style app into a server handler.
 *
 * @example
 * const server = new Server(wsgiGateway(app, { logger }), { port: 8000 });
 */
export function wsgiGateway(app: WSGIApp, options: WSGIGatewayOptions): Handler {
  const flags: EnvironFlags = { multithread: false, multiprocess: false, ...options.flags };
  const start = (ex: Exchange, body: Uint8Array, trailers: string[]) => {
    const errors = new ErrorStream(options.logger);
    const environ = buildEnviron(ex.request, body, trailers, ex.info, errors, flags);
    new WSGIRun(ex, options.logger, errors).run(app, environ);
  };
  return (ex) => {
    if (ex.request.framing === "none") {
      start(ex, EMPTY, []);
      return;
    }
    // A synchronous app cannot wait for the network, so the body is read whole
    // first (bounded by maxBodySize). Reading it is what sends 100 Continue.
    const chunks: Uint8Array[] = [];
    ex.readBody({
      data: (chunk) => chunks.push(chunk),
      end: (trailers) => start(ex, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), trailers),
      error: () => {
        // The connection already answered (413, 400, 408) or the client left.
      },
    });
  };
}
