/**
 * The comparison behind the differential fuzzer: what tsgi's parser and
 * Node's llhttp (strict) made of the same bytes, lined up request by
 * request, and the documented classes a disagreement may fall in. Each class
 * is a row of the table "Differences with llhttp" in docs/http-conformance.md,
 * with its RFC reason; a disagreement no class explains is a finding.
 */

import { METHODS } from "node:http";
import { DEFAULT_LIMITS } from "../../src/http1/limits.ts";
import { FORBIDDEN_TRAILERS } from "../../src/http1/parser.ts";
import type { NodeResult } from "./llhttp.ts";
import { type Transcript, transcript } from "./support.ts";

/** One request, as either parser saw it. */
export interface Request {
  method: string;
  target: string;
  version: number;
  headers: string[];
  body: string;
  trailers: string[];
  complete: boolean;
}

/** One parser's view, cut where a server stops reading HTTP. */
export interface Side {
  requests: Request[];
  /** The error that stopped this parser before the cut, or null. */
  refused: string | null;
}

const KNOWN_METHODS = new Set(METHODS);

/** Runs our parser as the real server is configured (default limits) on `bytes`. */
export function ours(bytes: Uint8Array): Transcript {
  return transcript(bytes, [], DEFAULT_LIMITS);
}

/**
 * Both results up to the first request after which HTTP stops on this
 * connection (no keep-alive, an upgrade, CONNECT): what follows it is not
 * parsed by a server, so it is not compared, nor is an error in it.
 */
export function sides(our: Transcript, node: NodeResult): { ours: Side; node: Side } {
  let cut = Number.POSITIVE_INFINITY;
  node.requests.forEach((r, i) => {
    if (r.complete && (!r.keepAlive || r.upgrade || r.method === "CONNECT")) cut = Math.min(cut, i);
  });
  if (our.end === "close") cut = Math.min(cut, our.requests.length - 1);
  our.requests.forEach((r, i) => {
    if (r.method === "CONNECT" && r.complete) cut = Math.min(cut, i);
  });
  const take = (list: Request[]): Request[] =>
    list.slice(0, cut + 1).map(({ method, target, version, headers, body, trailers, complete }) => ({
      method,
      target,
      version,
      headers,
      body,
      trailers,
      complete,
    }));
  const nodeRequests = node.requests.slice(0, node.errorAt ?? node.requests.length);
  const done = (list: Request[]) => Number.isFinite(cut) && list.length > cut && list[cut]!.complete;
  const oursSide: Side = { requests: take(our.requests), refused: null };
  const nodeSide: Side = { requests: take(nodeRequests), refused: null };
  if (!done(oursSide.requests) && our.end.startsWith("error")) oursSide.refused = our.end.split(" ")[2]!;
  if (!done(nodeSide.requests) && node.error !== null) nodeSide.refused = node.error;
  return { ours: oursSide, node: nodeSide };
}

function same(a: Request | undefined, b: Request | undefined): boolean {
  return a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/** How many leading requests both parsers saw identically and completely. */
export function agreedPrefix(o: Side, n: Side): number {
  let k = 0;
  while (k < o.requests.length && same(o.requests[k], n.requests[k]) && o.requests[k]!.complete) k++;
  return k;
}

/** Both parsers saw the same requests and both stopped (or both did not) at the same place. */
export function agree(o: Side, n: Side): boolean {
  const completeOf = (s: Side) => s.requests.filter((r) => r.complete);
  return (
    (o.refused === null) === (n.refused === null) &&
    JSON.stringify(completeOf(o)) === JSON.stringify(completeOf(n))
  );
}

/** Our view of `input` with the line and head it stops in completed. */
function completed(input: string): Side {
  return sides(ours(Buffer.from(`${input}\r\n\r\n`, "latin1")), { requests: [], error: null, errorAt: null })
    .ours;
}

/** Where our request `i` of `input` ends: the shortest prefix in which we see it complete. */
function endOf(input: string, i: number): number {
  for (let end = 1; end <= input.length; end++)
    if (ours(Buffer.from(input.slice(0, end), "latin1")).requests[i]?.complete) return end;
  return input.length;
}

type Explains = (input: string, o: Side, n: Side, k: number) => boolean;

/** The documented classes, in the order they are tried; names match docs/http-conformance.md. */
export const CLASSES: [name: string, explains: Explains][] = [
  [
    // llhttp knows a fixed list of methods; any token is a method (RFC 9110 §9.1).
    "method-token",
    (input, o, n, k) => {
      if (n.refused !== "HPE_INVALID_METHOD" || n.requests.length > k + 1) return false;
      // Our request k may still be waiting for the end of its head.
      const method = (o.requests[k] ?? completed(input).requests[k])?.method;
      return method !== undefined && !KNOWN_METHODS.has(method);
    },
  ],
  [
    // We check a line when its LF arrives; llhttp byte by byte. Completed, we refuse too.
    "checked-at-line-end",
    (input, o, n, k) => {
      if (o.refused !== null || n.refused === null || n.requests.length > k + 1) return false;
      const done = completed(input);
      return done.refused !== null && agreedPrefix(done, o) >= Math.min(k, n.requests.length);
    },
  ],
  [
    // RFC 9112 §2.2 lets a server accept a bare LF line end; we never do (smuggling).
    "bare-lf",
    (input, o, _n, k) => {
      if (o.refused !== "TSGI_ERR_BAD_LINE_ENDING") return false;
      if (/(^|[^\r])\n/.test(input)) return true;
      // The LF may follow a CR that was the last byte of a body ("Content-Length:
      // 1" then "\r\n"): the next request then starts with a bare LF.
      return k > 0 && o.requests.length === k && input[endOf(input, k - 1)] === "\n";
    },
  ],
  [
    // llhttp reads a request line without a version as HTTP/0.9 (and then parses
    // field lines); RFC 9112 §3 requires HTTP-version, so we answer 400.
    "http-0.9",
    (input, o, n, k) =>
      o.refused === "TSGI_ERR_BAD_REQUEST_LINE" &&
      (n.requests[k]?.version === 9 ||
        // llhttp still waiting for the head of "GET /" (or "GET  /": the
        // extra SP is refused by us either way, see single-sp).
        (n.refused === null && n.requests.length === k && /(^|\n)[^ \r\n]+ +[^ \r\n]+\r\n/.test(input))),
  ],
  [
    // llhttp takes several spaces between the parts of a request line. RFC
    // 9112 §3 allows that leniency but warns it enables smuggling: one SP only.
    "single-sp",
    (input, o) =>
      (o.refused === "TSGI_ERR_BAD_VERSION" ||
        o.refused === "TSGI_ERR_BAD_REQUEST_LINE" ||
        o.refused === "TSGI_ERR_BAD_TARGET") &&
      /(^|\n)[^\r\n]*\S {2,}\S[^\r\n]*HTTP\/|(^|\n)[^\r\n]* {2,}HTTP\//.test(input),
  ],
  [
    // llhttp skips a bare CR (e.g. before a request line); RFC 9112 §2.2 says a
    // bare CR is invalid (or replaced by SP); we refuse the message.
    "bare-cr",
    (input, o, n, k) =>
      o.refused !== null && (n.requests.length > k || n.refused === null) && /\r(?!\n)/.test(input),
  ],
  [
    // llhttp accepts an empty chunk-ext-name ("5;=x"); RFC 9112 §7.1.1 makes it a token (1+ tchar).
    "chunk-ext",
    (_input, o, n, k) => o.refused === "TSGI_ERR_BAD_CHUNK" && n.requests[k]?.complete === true,
  ],
  [
    // llhttp takes any URL characters ("*A", "a/b"); RFC 9112 §3.2 allows four
    // forms only (origin, absolute, authority for CONNECT, "*" for OPTIONS), §3: 400.
    // We refuse at the request line; llhttp has the request, or (head
    // unfinished, "GET * HTTP/1.1\r\n") is still waiting without refusing.
    "target-form",
    (_input, o, n, k) =>
      o.refused === "TSGI_ERR_BAD_TARGET" &&
      (n.requests[k] !== undefined || (n.refused === null && n.requests.length === k)),
  ],
  [
    // llhttp (strict) refuses whitespace around ";" and "=" in a chunk
    // extension; RFC 9112 §7.1.1 allows it (BWS), so we accept it (and may
    // refuse something later in the stream, which llhttp never reached).
    "chunk-ext-bws",
    (input, o, n, k) =>
      (n.refused === "HPE_STRICT" || n.refused === "HPE_INVALID_CHUNK_SIZE") &&
      (o.refused === null || o.requests[k]?.complete === true) &&
      /\r\n[0-9a-fA-F]+(?:[ \t]+;|[^\r\n]*;[^\r\n]*[ \t])/.test(input),
  ],
  [
    // llhttp (strict) refuses a tab after the Content-Length digits; the tab is
    // OWS around the field value (RFC 9112 §5), not part of it, so we accept.
    "content-length-ows",
    (input, o, n, k) =>
      n.refused === "HPE_INVALID_CONTENT_LENGTH" &&
      (o.refused === null || o.requests[k]?.complete === true) &&
      /content-length:[ \t]*[0-9]+[ \t]*\t/i.test(input),
  ],
  [
    // llhttp (strict) refuses a tab after "chunked" in Transfer-Encoding; the
    // tab is OWS around the field value (RFC 9112 §5, RFC 9110 §5.5), not part
    // of the coding, so we accept (like content-length-ows).
    "transfer-encoding-ows",
    (input, o, n, k) =>
      n.refused === "HPE_INVALID_TRANSFER_ENCODING" &&
      (o.refused === null || o.requests[k]?.complete === true) &&
      /transfer-encoding:[^\r\n]*chunked[ \t]*\t[ \t]*\r\n/i.test(input),
  ],
  [
    // llhttp (strict) refuses empty list elements after "chunked" ("chunked,",
    // "chunked , ,"); RFC 9110 §5.6.1.2: a recipient MUST parse and ignore a
    // reasonable number of empty list elements, so chunked is still the final
    // coding and we accept.
    "te-empty-element",
    (input, o, n, k) =>
      n.refused === "HPE_INVALID_TRANSFER_ENCODING" &&
      (o.refused === null || o.requests[k]?.complete === true) &&
      /transfer-encoding:[^\r\n]*chunked[ \t]*,[ \t,]*\r\n/i.test(input),
  ],
  [
    // A well-formed CONNECT: node:http hands it to a 'connect' listener (no
    // 'request' event); tsgi answers 501 before any app is called, because no
    // gateway can open the tunnel a 2xx announces (RFC 9110 §9.3.6, §15.6.2).
    "connect-501",
    (_input, o, n, k) =>
      o.refused === "TSGI_ERR_CONNECT_NOT_IMPLEMENTED" && n.refused === null && n.requests.length === k,
  ],
  [
    // Transfer-Encoding in an HTTP/1.0 request: RFC 9112 §6.1 says to treat
    // the framing as faulty; we answer 400, llhttp decodes the chunks.
    "te-http/1.0",
    (_input, o, n, k) => {
      const r = n.requests[k];
      if (o.refused !== "TSGI_ERR_BAD_TRANSFER_ENCODING" || r === undefined || r.version !== 10) return false;
      return r.headers.some((v, i) => i % 2 === 0 && v.toLowerCase() === "transfer-encoding");
    },
  ],
  [
    // A framing, routing or connection field (Host, Content-Length, ...) in
    // the trailers: RFC 9110 §6.5.1 forbids sending one; llhttp passes it on
    // as a trailer, we answer 400.
    "forbidden-trailer",
    (_input, o, n, k) =>
      o.refused === "TSGI_ERR_BAD_HEADER_NAME" &&
      (n.requests[k]?.trailers ?? []).some((v, i) => i % 2 === 0 && FORBIDDEN_TRAILERS.has(v.toLowerCase())),
  ],
  [
    // RFC 9112 §3.2: a second Host field, or a Host value that is not a valid uri-host[:port], MUST get 400.
    "host",
    (_input, o) => o.refused === "TSGI_ERR_BAD_HOST",
  ],
  [
    // A body larger than our limit (maxBodySize, 10 MiB by default; a chunk
    // size such as 8819b87 is enough): we answer 413 as soon as the size is
    // read; llhttp has no such limit and goes on reading (RFC 9110 §15.5.14).
    "body-limit",
    (_input, o, n, k) => o.refused === "TSGI_ERR_BODY_TOO_LARGE" && n.requests[k] !== undefined,
  ],
];

/** The class explaining a disagreement, or null when none does. */
export function classify(input: string, o: Side, n: Side): string | null {
  const k = agreedPrefix(o, n);
  for (const [name, explains] of CLASSES) if (explains(input, o, n, k)) return name;
  return null;
}
