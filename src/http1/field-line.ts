/**
 * Grammar of one field line (RFC 9112 §5): `field-name ":" OWS field-value
 * OWS`, for header and trailer sections alike. Syntax only: what a field
 * means is head-semantics.ts.
 */

import { COLON, HTAB, latin1, SP, TCHAR } from "./chars.ts";
import { fail } from "./errors.ts";

/** Any byte FIELD_VALUE_CHAR refuses (CTLs but HTAB, and DEL), as a regex over a latin-1 string. */
const INVALID_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Parses one `field-name ":" OWS field-value OWS` line (RFC 9112 §5) and
 * appends name and value to `out`.
 */
export function parseFieldLine(buf: Buffer, start: number, end: number, out: string[]): void {
  const first = buf[start]!;
  if (first === SP || first === HTAB) {
    // RFC 9112 §5.2: obs-fold may be rejected with 400; we always do.
    fail("obsolete line folding", "TSGI_ERR_OBS_FOLD");
  }
  let i = start;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === start || i === end || buf[i] !== COLON) {
    // Covers whitespace before the colon (RFC 9112 §5.1 says 400) and any non-tchar byte.
    fail("invalid header field name", "TSGI_ERR_BAD_HEADER_NAME");
  }
  const name = latin1(buf, start, i);
  let vs = i + 1;
  let ve = end;
  while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
  const value = latin1(buf, vs, ve);
  // One regex scan of the decoded string is faster than a JS loop over the bytes.
  if (INVALID_FIELD_VALUE.test(value))
    fail("invalid character in header field value", "TSGI_ERR_BAD_HEADER_VALUE");
  out.push(name, value);
}
