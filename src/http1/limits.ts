/**
 * Size limits the parser enforces. Every default is spelled out here with the
 * reason for it and its precedent in other servers, so operators can judge
 * what they change; and the one function that checks each of them.
 */

import { fail } from "./errors.ts";

/** Limits on what a client may send; all sizes are in bytes. */
export interface ParserLimits {
  /**
   * Longest request line (method, target, version; without CRLF). Over it → 414.
   * Default 8 KiB: nginx's `large_client_header_buffers` is 8k; gunicorn uses 4094,
   * which long query strings from real apps do exceed.
   */
  maxRequestLineSize: number;
  /**
   * Largest header section (all field lines after the request line, with their
   * CRLFs). Over it → 431. Default 16 KiB, the same as Node's `--max-http-header-size`.
   */
  maxHeaderSize: number;
  /** Most field lines in the header section (and, separately, in the trailers). Over it → 431. Default 100, as gunicorn. */
  maxHeaderCount: number;
  /**
   * Largest request body, counted after de-chunking. Over it → 413, also when a
   * chunked body crosses it midway. Default 10 MiB: the WSGI-style gateway holds
   * a body in memory, so some bound is needed; nginx's 1 MiB default is a
   * well-known source of surprise for uploads.
   */
  maxBodySize: number;
  /** Longest chunk-size line including chunk extensions. Over it → 400. Default 4 KiB; real clients send a few bytes. */
  maxChunkLineSize: number;
}

/** The defaults documented on {@link ParserLimits}. */
export const DEFAULT_LIMITS: Readonly<ParserLimits> = Object.freeze({
  maxRequestLineSize: 8 * 1024,
  maxHeaderSize: 16 * 1024,
  maxHeaderCount: 100,
  maxBodySize: 10 * 1024 * 1024,
  maxChunkLineSize: 4 * 1024,
});

// ---- the one check of each limit ------------------------------------------
//
// Each limit is checked by exactly one function below, so every place that
// reads a request line, a field line or a body measures it the same way. A
// line is measured as "bytes before its LF" (`lineBytes`, the CR included)
// both while it is still arriving and once its LF is in: the same rule on
// both sides of the LF, so the answer (414/431 or 400) never depends on how
// the input was split into reads.

/**
 * The request line, without its CRLF, must fit `maxRequestLineSize` → else 414.
 * `lineBytes` counts up to the LF; the last of them is (or, while the line
 * is still arriving, may be) the CR, which is not part of the line.
 */
export function checkRequestLineSize(lineBytes: number, limits: ParserLimits): void {
  if (lineBytes - 1 > limits.maxRequestLineSize) {
    fail("request line too long", "TSGI_ERR_REQUEST_LINE_TOO_LONG", 414);
  }
}

/**
 * A header (or trailer) section, with the CRLF of each field line, must fit
 * `maxHeaderSize` → else 431 with `message`. `sectionBytes` are the field
 * lines already accepted; the current line adds, once its LF is in, its
 * `lineBytes` and the LF, except the empty line that ends the section (one
 * byte, the CR, before the LF) which adds nothing; while it is still
 * arriving, all but its last byte, which may be that empty line's CR.
 */
export function checkFieldSectionSize(
  sectionBytes: number,
  lineBytes: number,
  complete: boolean,
  limits: ParserLimits,
  message: string,
): void {
  const added = complete ? (lineBytes === 1 ? 0 : lineBytes + 1) : lineBytes - 1;
  if (sectionBytes + added > limits.maxHeaderSize) fail(message, "TSGI_ERR_HEADERS_TOO_LARGE", 431);
}

/** At most `maxHeaderCount` field lines per section; `fields` is the flat name/value list so far → else 431. */
export function checkFieldCount(fields: readonly string[], limits: ParserLimits, message: string): void {
  if (fields.length >= limits.maxHeaderCount * 2) fail(message, "TSGI_ERR_TOO_MANY_HEADERS", 431);
}

/** The request body (Content-Length, or the sum of chunk sizes so far) must fit `maxBodySize` → else 413. */
export function checkBodySize(bytes: number, limits: ParserLimits): void {
  if (bytes > limits.maxBodySize) fail("request body too large", "TSGI_ERR_BODY_TOO_LARGE", 413);
}

/** A chunk-size line, counted up to its LF (CR and extensions included), must fit `maxChunkLineSize` → else 400. */
export function checkChunkLineSize(lineBytes: number, limits: ParserLimits): void {
  if (lineBytes > limits.maxChunkLineSize) fail("chunk-size line too long", "TSGI_ERR_BAD_CHUNK");
}
