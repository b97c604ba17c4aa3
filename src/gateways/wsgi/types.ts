/**
 * The types of the WSGI-style interface, a TypeScript port of PEP 3333.
 * docs/interfaces/wsgi.md specifies it in prose.
 */

/** `wsgi.input`: the request body, read synchronously. */
export interface WSGIInput extends Iterable<Uint8Array> {
  /** Up to `size` bytes (all remaining bytes when omitted or negative); an empty array at the end. */
  read(size?: number | null): Uint8Array;
  /** One line including its `\n` (at most `size` bytes when given); empty at the end. */
  readline(size?: number | null): Uint8Array;
  /** All remaining lines. `hint` stops once that many bytes have been read. */
  readlines(hint?: number | null): Uint8Array[];
}

/** `wsgi.errors`: a text stream for the app's error output (goes to the server log). */
export interface WSGIErrors {
  write(text: string): void;
  writelines(lines: Iterable<string>): void;
  flush(): void;
}

/**
 * The CGI-style request description an app receives. Keys are PEP 3333's;
 * `HTTP_*` keys hold the other request headers. Strings carry the request's
 * bytes as latin-1 (PEP 3333's "native strings").
 */
export interface Environ {
  REQUEST_METHOD: string;
  /** The mount point of the app; "" at the root. */
  SCRIPT_NAME: string;
  /** The rest of the path, percent-decoded (bytes as latin-1). */
  PATH_INFO: string;
  /** The query string as sent, without "?"; "" when none. */
  QUERY_STRING: string;
  CONTENT_TYPE?: string;
  /** Body length in bytes; also set for chunked bodies, which the gateway reads whole. */
  CONTENT_LENGTH?: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  /** "HTTP/1.0" or "HTTP/1.1". */
  SERVER_PROTOCOL: string;
  REMOTE_ADDR: string;
  REMOTE_PORT: string;
  /** The request-target exactly as sent (gunicorn's extension). */
  RAW_URI: string;
  "wsgi.version": readonly [1, 0];
  "wsgi.url_scheme": "http" | "https";
  "wsgi.input": WSGIInput;
  /** The body is complete and read() returns "" at its end (mod_wsgi/gunicorn's extension). */
  "wsgi.input_terminated": true;
  "wsgi.errors": WSGIErrors;
  "wsgi.multithread": boolean;
  "wsgi.multiprocess": boolean;
  "wsgi.run_once": boolean;
  /** Trailer fields of a chunked request body, as [name, value] pairs (tsgi's extension). */
  "tsgi.trailers": [string, string][];
  [key: string]: unknown;
}

/** A response header as PEP 3333 has it: a [name, value] pair. */
export type WSGIHeader = [name: string, value: string];

/** The legacy `write()` callable returned by `startResponse`. */
export type WSGIWrite = (data: Uint8Array | string) => void;

/**
 * `start_response(status, response_headers, exc_info=None)`.
 * `status` is a status line without the version, e.g. "200 OK".
 * `excInfo`, when given, is the error being handled: it allows a second call
 * before the head is sent, and is re-thrown if the head already went out.
 */
export type StartResponse = (status: string, headers: WSGIHeader[], excInfo?: unknown) => WSGIWrite;

/** What an app returns: body chunks (strings are sent UTF-8 encoded), optionally closable. */
export type WSGIResult = Iterable<Uint8Array | string> & { close?: () => void };

/**
 * A WSGI-style application.
 *
 * @example
 * const app: WSGIApp = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [`Hello from ${environ.PATH_INFO}\n`];
 * };
 */
export type WSGIApp = (environ: Environ, startResponse: StartResponse) => WSGIResult;
