/**
 * What the request's header fields mean, once the whole head is in (RFC 9110
 * §7.2, §7.6.1, §7.8, §8.3, §10.1.1; RFC 9112 §6, §9.3): Host, body framing
 * (Content-Length / Transfer-Encoding), Connection (keep-alive, upgrade),
 * Expect, Upgrade, the singleton Content-Type; and which fields a trailer
 * section may not carry. Syntax was checked line by line before
 * (field-line.ts); this decides meaning and refuses contradictions.
 */

import { equalsLower, equalsLowerAt, HOST_CHAR, isOWS, trimOWS } from "./chars.ts";
import { fail } from "./errors.ts";
import type { BodyFraming, RequestHead } from "./events.ts";
import { checkTransferEncoding, parseContentLength } from "./framing.ts";
import { checkBodySize, type ParserLimits } from "./limits.ts";
import type { RequestLine } from "./request-line.ts";

/**
 * Fields that must not appear in a trailer section (RFC 9110 §6.5.1:
 * framing, routing, connection control); one there gets 400.
 */
export const FORBIDDEN_TRAILERS: ReadonlySet<string> = new Set([
  "content-length",
  "transfer-encoding",
  "host",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
]);

/** Refuses the trailer field just appended to `trailers` if it is one of {@link FORBIDDEN_TRAILERS}. */
export function checkTrailerField(trailers: readonly string[]): void {
  const name = trailers[trailers.length - 2]!.toLowerCase();
  if (FORBIDDEN_TRAILERS.has(name)) fail("field not allowed in trailers", "TSGI_ERR_BAD_HEADER_NAME");
}

/**
 * The last Host value found valid. Clients repeat theirs on every request,
 * and comparing with it (usually the same string, from field-line.ts's
 * remembered values) is cheaper than checking each character again.
 */
let validHost = "";

const CLOSE = 1;
const KEEP_ALIVE = 2;
const UPGRADE = 4;

/**
 * The connection options of a Connection value (RFC 9110 §7.6.1) that
 * matter here, as CLOSE | KEEP_ALIVE | UPGRADE bits. Walks the `#list` by
 * offsets instead of split/trim/toLowerCase: this runs on most requests
 * (`Connection: keep-alive`). OWS is SP/HTAB only: "\xa0close" is no token
 * and closes nothing.
 */
function connectionOptions(value: string): number {
  let options = 0;
  const n = value.length;
  for (let s = 0; s <= n; ) {
    let e = value.indexOf(",", s);
    if (e === -1) e = n;
    let a = s;
    let b = e;
    while (a < b && isOWS(value.charCodeAt(a))) a++;
    while (b > a && isOWS(value.charCodeAt(b - 1))) b--;
    if (equalsLowerAt(value, a, b, "close")) options |= CLOSE;
    else if (equalsLowerAt(value, a, b, "keep-alive")) options |= KEEP_ALIVE;
    else if (equalsLowerAt(value, a, b, "upgrade")) options |= UPGRADE;
    s = e + 1;
  }
  return options;
}

/**
 * Applies the framing and singleton-field rules (RFC 9112 §6, RFC 9110 §7.2)
 * to a complete head and returns the request event. `headers` is the flat
 * name/value list of its field lines.
 */
export function interpretHead(line: RequestLine, headers: string[], limits: ParserLimits): RequestHead {
  const version = line.version;
  let host = "";
  let hostCount = 0;
  let contentLength = -1;
  let contentLengthCount = 0;
  let contentTypeCount = 0;
  let transferEncoding: string | null = null;
  let close = false;
  let keepAliveToken = false;
  let upgradeToken = false;
  let upgrade = "";
  let expectContinue = false;

  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    // Dispatch on length first: most fields are none of these and cost one compare.
    switch (name.length) {
      case 4:
        if (equalsLower(name, "host")) {
          host = headers[i + 1]!;
          hostCount++;
        }
        break;
      case 6:
        if (equalsLower(name, "expect")) {
          // OWS is SP/HTAB only (RFC 9110 §5.6.3): "\xa0100-continue" is an unknown expectation, 417.
          for (const member of headers[i + 1]!.split(",")) {
            const m = trimOWS(member).toLowerCase();
            if (m === "100-continue") expectContinue = true;
            else if (m !== "") fail("unsupported expectation", "TSGI_ERR_EXPECTATION_FAILED", 417);
          }
        }
        break;
      case 7:
        if (equalsLower(name, "upgrade")) upgrade = headers[i + 1]!.toLowerCase();
        break;
      case 10:
        if (equalsLower(name, "connection")) {
          const options = connectionOptions(headers[i + 1]!);
          if ((options & CLOSE) !== 0) close = true;
          if ((options & KEEP_ALIVE) !== 0) keepAliveToken = true;
          if ((options & UPGRADE) !== 0) upgradeToken = true;
        }
        break;
      case 12:
        if (equalsLower(name, "content-type") && ++contentTypeCount > 1) {
          // A singleton field (RFC 9110 §8.3); two values could be read differently by a proxy and the app.
          fail("more than one Content-Type field", "TSGI_ERR_BAD_HEADER_VALUE");
        }
        break;
      case 14:
        if (equalsLower(name, "content-length")) {
          contentLengthCount++;
          contentLength = parseContentLength(headers[i + 1]!);
        }
        break;
      case 17:
        if (equalsLower(name, "transfer-encoding")) {
          transferEncoding =
            transferEncoding === null ? headers[i + 1]! : `${transferEncoding},${headers[i + 1]}`;
        }
        break;
    }
  }

  if (hostCount > 1) fail("more than one Host field", "TSGI_ERR_BAD_HOST");
  if (hostCount === 0 && version === 11) fail("HTTP/1.1 request without Host", "TSGI_ERR_BAD_HOST");
  if (host !== validHost) {
    for (let i = 0; i < host.length; i++) {
      if (HOST_CHAR[host.charCodeAt(i)] !== 1) fail("invalid Host value", "TSGI_ERR_BAD_HOST");
    }
    validHost = host;
  }

  let framing: BodyFraming = "none";
  if (transferEncoding !== null) {
    // A 1.0 message with Transfer-Encoding has faulty framing (RFC 9112 §6.1), and
    // CL together with TE is the classic request-smuggling vector: refuse both.
    if (version === 10) fail("Transfer-Encoding in an HTTP/1.0 request", "TSGI_ERR_BAD_TRANSFER_ENCODING");
    if (contentLengthCount > 0) {
      fail("both Content-Length and Transfer-Encoding", "TSGI_ERR_CONFLICTING_FRAMING");
    }
    checkTransferEncoding(transferEncoding);
    framing = "chunked";
  } else if (contentLengthCount > 1) {
    fail("more than one Content-Length field", "TSGI_ERR_BAD_CONTENT_LENGTH");
  } else if (contentLengthCount === 1) {
    checkBodySize(contentLength, limits);
    if (contentLength > 0) framing = "length";
  }

  const hasBody = framing !== "none";
  const head: RequestHead = {
    type: "request",
    method: line.method,
    target: line.target,
    version,
    headers,
    host,
    framing,
    contentLength: framing === "length" ? contentLength : framing === "none" ? 0 : -1,
    keepAlive: version === 11 ? !close : keepAliveToken && !close,
    expectContinue: expectContinue && version === 11 && hasBody,
    upgrade: upgradeToken ? upgrade : "",
  };
  return head;
}
