/**
 * `validate(app)`: a middleware in the spirit of Python's `wsgiref.validate`
 * that checks both sides of the WSGI-style contract as a request passes:
 * the environ the server built, and the app's calls to `startResponse`,
 * `write`, its result and its chunks. A violation throws a
 * {@link WSGIValidationError} naming the rule, so contract bugs surface in
 * development instead of as odd responses in production.
 */

import { TsgiError } from "../../http1/tsgi-error.ts";
import type { Environ, StartResponse, WSGIApp, WSGIResult } from "./types.ts";

/** A broken rule of the WSGI-style contract, by the app or by the server. */
export class WSGIValidationError extends TsgiError {
  override readonly name = "WSGIValidationError";
  readonly code = "TSGI_ERR_WSGI_VALIDATION";
}

function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new WSGIValidationError(message);
}

const REQUIRED_STRINGS = [
  "REQUEST_METHOD",
  "SCRIPT_NAME",
  "PATH_INFO",
  "QUERY_STRING",
  "SERVER_NAME",
  "SERVER_PORT",
  "SERVER_PROTOCOL",
] as const;

/** Hop-by-hop headers belong to the server (PEP 3333, "Other HTTP Features"). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "trailers",
  "transfer-encoding",
  "upgrade",
]);

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;

function checkEnviron(environ: Environ): void {
  check(typeof environ === "object" && environ !== null, "server: environ must be an object");
  for (const key of REQUIRED_STRINGS) {
    check(typeof environ[key] === "string", `server: environ.${key} must be a string`);
  }
  check(environ.REQUEST_METHOD !== "", "server: REQUEST_METHOD must not be empty");
  check(
    environ.SCRIPT_NAME === "" || environ.SCRIPT_NAME.startsWith("/"),
    "server: SCRIPT_NAME must be empty or start with '/'",
  );
  check(
    environ.PATH_INFO === "" || environ.PATH_INFO.startsWith("/") || environ.PATH_INFO === "*",
    "server: PATH_INFO must be empty or start with '/'",
  );
  check(
    environ.SCRIPT_NAME !== "" || environ.PATH_INFO !== "",
    "server: one of SCRIPT_NAME or PATH_INFO must be set",
  );
  check(/^[0-9]+$/.test(environ.SERVER_PORT), "server: SERVER_PORT must be digits");
  if (environ.CONTENT_LENGTH !== undefined) {
    check(/^[0-9]+$/.test(environ.CONTENT_LENGTH), "server: CONTENT_LENGTH must be digits");
  }
  check(
    Array.isArray(environ["wsgi.version"]) &&
      environ["wsgi.version"][0] === 1 &&
      environ["wsgi.version"][1] === 0,
    "server: wsgi.version must be [1, 0]",
  );
  check(
    ["http", "https"].includes(environ["wsgi.url_scheme"]),
    "server: wsgi.url_scheme must be http or https",
  );
  const input = environ["wsgi.input"];
  check(
    typeof input?.read === "function" &&
      typeof input.readline === "function" &&
      typeof input.readlines === "function" &&
      typeof input[Symbol.iterator] === "function",
    "server: wsgi.input must have read, readline, readlines and be iterable",
  );
  const errors = environ["wsgi.errors"];
  check(
    typeof errors?.write === "function" &&
      typeof errors.flush === "function" &&
      typeof errors.writelines === "function",
    "server: wsgi.errors must have write, writelines and flush",
  );
  for (const flag of ["wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"] as const) {
    check(typeof environ[flag] === "boolean", `server: ${flag} must be a boolean`);
  }
  for (const key of Object.keys(environ)) {
    if (key.startsWith("HTTP_"))
      check(typeof environ[key] === "string", `server: environ.${key} must be a string`);
  }
  check(
    !("HTTP_CONTENT_TYPE" in environ),
    "server: Content-Type belongs in CONTENT_TYPE, not HTTP_CONTENT_TYPE",
  );
  check(
    !("HTTP_CONTENT_LENGTH" in environ),
    "server: Content-Length belongs in CONTENT_LENGTH, not HTTP_CONTENT_LENGTH",
  );
}

function checkStatus(status: unknown): void {
  check(typeof status === "string", "app: status must be a string");
  check(
    /^[1-9][0-9]{2} /.test(status),
    `app: status ${JSON.stringify(status)} must be three digits, a space, a reason`,
  );
  check(Number(status.slice(0, 3)) >= 200, "app: status must be a final status (2xx-5xx)");
  check(FIELD_VALUE_RE.test(status), "app: status must not contain control characters");
}

function checkHeaders(headers: unknown): void {
  check(Array.isArray(headers), "app: headers must be an array of [name, value] pairs");
  for (const pair of headers) {
    check(Array.isArray(pair) && pair.length === 2, "app: each header must be a [name, value] pair");
    const [name, value] = pair as unknown[];
    check(
      typeof name === "string" && typeof value === "string",
      "app: header names and values must be strings",
    );
    check(TOKEN_RE.test(name), `app: header name ${JSON.stringify(name)} is not a valid token`);
    check(!HOP_BY_HOP.has(name.toLowerCase()), `app: hop-by-hop header ${name} is the server's to set`);
    check(
      FIELD_VALUE_RE.test(value),
      `app: value of header ${name} contains CR, LF, NUL or a control character`,
    );
    check(name.toLowerCase() !== "status", "app: 'Status' is a CGI header, not an HTTP one");
  }
}

function checkChunk(chunk: unknown, where: string): void {
  check(
    chunk instanceof Uint8Array || typeof chunk === "string",
    `app: ${where} must be Uint8Array or string, got ${typeof chunk}`,
  );
}

/**
 * Wraps `app` so every request checks the WSGI-style contract on both sides.
 * Use it in development and tests; it costs a little per request.
 *
 * @example
 * import { validate } from "tsgi/wsgi";
 * export default validate(app);
 */
export function validate(app: WSGIApp): WSGIApp {
  return (environ, startResponse) => {
    checkEnviron(environ);
    let started = false;
    let headersSent = false;
    const checkedStart: StartResponse = (status, headers, excInfo) => {
      checkStatus(status);
      checkHeaders(headers);
      if (excInfo === undefined || excInfo === null) {
        check(!started, "app: startResponse called a second time without excInfo");
      }
      started = true;
      const write = startResponse(status, headers, excInfo);
      return (data) => {
        checkChunk(data, "write() data");
        if ((data as Uint8Array | string).length > 0) headersSent = true;
        write(data);
      };
    };
    const result = app(environ, checkedStart);
    check(
      result !== null && typeof result === "object" && typeof result[Symbol.iterator] === "function",
      "app: must return an iterable of chunks",
    );
    check(
      !(result instanceof Uint8Array),
      "app: returned a Uint8Array; return [bytes] (an iterable of chunks)",
    );
    return wrapResult(
      result,
      () => started,
      () => headersSent,
    );
  };
}

function wrapResult(result: WSGIResult, started: () => boolean, headersSent: () => boolean): WSGIResult {
  let closed = false;
  return {
    *[Symbol.iterator]() {
      for (const chunk of result) {
        checkChunk(chunk, "each body chunk");
        check(started() || headersSent(), "app: yielded a body chunk before calling startResponse");
        check(!closed, "server: iterated the result after close()");
        yield chunk;
      }
    },
    close() {
      check(!closed, "server: called close() twice");
      closed = true;
      result.close?.();
    },
  };
}
