/**
 * The two fields that frame a request body (RFC 9112 §6): the syntax of a
 * Content-Length value and of a Transfer-Encoding list. Which of them wins,
 * and what happens when both are sent, is decided in head-semantics.ts.
 */

import { TCHAR, trimOWS } from "./chars.ts";
import { fail } from "./errors.ts";

/** Content-Length digits kept exact by a double (2^53 has 16 digits). */
const MAX_CONTENT_LENGTH_DIGITS = 15;

/** `Content-Length = 1*DIGIT` (RFC 9110 §8.6); no sign, no spaces inside, no list form. */
export function parseContentLength(value: string): number {
  const n = value.length;
  if (n === 0) fail("invalid Content-Length", "TSGI_ERR_BAD_CONTENT_LENGTH");
  let v = 0;
  let significant = 0; // leading zeros do not count towards the digit limit
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) fail("invalid Content-Length", "TSGI_ERR_BAD_CONTENT_LENGTH");
    if ((v !== 0 || d !== 0) && ++significant > MAX_CONTENT_LENGTH_DIGITS) {
      fail("Content-Length too large", "TSGI_ERR_BAD_CONTENT_LENGTH");
    }
    v = v * 10 + d;
  }
  return v;
}

/**
 * The parameters after a transfer coding's name: `*( OWS ";" OWS token BWS
 * "=" BWS ( token / quoted-string ) )` (RFC 9112 §7, RFC 9110 §5.6.6).
 */
const CODING_PARAMETERS =
  /^(?:[ \t]*;[ \t]*[-!#$%&'*+.^_`|~0-9A-Za-z]+[ \t]*=[ \t]*(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+|"(?:[\t !#-[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))*[ \t]*$/;

/**
 * `chunked` must be the final coding and appear once (RFC 9112 §6.1, §7).
 * Any other coding in front of it is one we do not decode → 501. Malformed
 * parameters, and any parameter on `chunked` (it defines none), get 400: a
 * proxy that reads `chunked;` or `chunked;x=1` as some other coding would
 * frame the body differently from us.
 */
export function checkTransferEncoding(value: string): void {
  const codings: string[] = [];
  for (const element of value.split(",")) {
    const semi = element.indexOf(";");
    // OWS is SP/HTAB only (RFC 9110 §5.6.3). trim() would also strip 0xA0 and read
    // "\xa0chunked" as chunked, which a proxy reads as an unknown coding: smuggling.
    const coding = trimOWS(semi === -1 ? element : element.slice(0, semi)).toLowerCase();
    // Empty list elements are allowed (RFC 9110 §5.6.1); parameters need a coding.
    if (coding === "" && semi === -1) continue;
    if (coding === "") fail("invalid Transfer-Encoding", "TSGI_ERR_BAD_TRANSFER_ENCODING");
    for (let i = 0; i < coding.length; i++) {
      if (TCHAR[coding.charCodeAt(i)] !== 1)
        fail("invalid Transfer-Encoding", "TSGI_ERR_BAD_TRANSFER_ENCODING");
    }
    if (semi !== -1) {
      if (!CODING_PARAMETERS.test(element.slice(semi)))
        fail("invalid Transfer-Encoding parameters", "TSGI_ERR_BAD_TRANSFER_ENCODING");
      if (coding === "chunked") fail("chunked takes no parameters", "TSGI_ERR_BAD_TRANSFER_ENCODING");
    }
    codings.push(coding);
  }
  if (codings.length === 0 || codings[codings.length - 1] !== "chunked") {
    fail("chunked is not the final transfer coding", "TSGI_ERR_BAD_TRANSFER_ENCODING");
  }
  for (let i = 0; i < codings.length - 1; i++) {
    if (codings[i] === "chunked") fail("chunked applied more than once", "TSGI_ERR_BAD_TRANSFER_ENCODING");
  }
  if (codings.length > 1) {
    fail(
      "transfer codings other than chunked are not implemented",
      "TSGI_ERR_UNSUPPORTED_TRANSFER_CODING",
      501,
    );
  }
}
