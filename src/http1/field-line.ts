/**
 * Grammar of one field line (RFC 9112 §5): `field-name ":" OWS field-value
 * OWS`, for header and trailer sections alike. Syntax only: what a field
 * means is head-semantics.ts.
 */

import { COLON, HTAB, latin1, SP, sameBytes, TCHAR } from "./chars.ts";
import { fail } from "./errors.ts";

/** Any byte FIELD_VALUE_CHAR refuses (CTLs but HTAB, and DEL), as a regex over a latin-1 string. */
const INVALID_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

// ---- remembered strings ----------------------------------------------------
//
// Clients send the same names, and mostly the same values, in every request,
// and in the same order: comparing the bytes with the string decoded last
// time is much cheaper than decoding (and, for a value, validating) them
// again. Two guesses, both shared by all connections (a string is only its
// bytes):
// - by position: the name and value of the field at the same index in the
//   last head parsed. The name is compared while it is scanned for tchars,
//   so a hit costs one pass over the name's bytes.
// - by slot (name length and first byte), for fields that moved: the last
//   name seen there and the last valid value that came with it.
// "Accept-Encoding" and "Accept-Language" share a slot; the positional guess
// keeps them from evicting each other on every request.

/** Fields at an index below this have a positional guess. */
const MAX_REMEMBERED_POSITION = 64;
/** Names shorter than this are remembered. */
const MAX_REMEMBERED_NAME = 32;
/** Values up to this long are remembered. */
const MAX_REMEMBERED_VALUE = 256;
const namesAt: string[] = new Array(MAX_REMEMBERED_POSITION).fill("");
const valuesAt: string[] = new Array(MAX_REMEMBERED_POSITION).fill("");
const rememberedNames: string[] = new Array(MAX_REMEMBERED_NAME * 256).fill("");
const rememberedValues: string[] = new Array(MAX_REMEMBERED_NAME * 256).fill("");

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
  const position = out.length >> 1;
  const positional = position < MAX_REMEMBERED_POSITION;
  const guess = positional ? namesAt[position]! : "";
  // One pass: check each byte is a tchar and compare it with the guess.
  // Past the guess's end charCodeAt is NaN, and NaN ^ b is b, never 0 for a tchar.
  let i = start;
  let diff = 0;
  for (; i < end; i++) {
    const b = buf[i]!;
    if (TCHAR[b] !== 1) break;
    diff |= guess.charCodeAt(i - start) ^ b;
  }
  if (i === start || i === end || buf[i] !== COLON) {
    // Covers whitespace before the colon (RFC 9112 §5.1 says 400) and any non-tchar byte.
    fail("invalid header field name", "TSGI_ERR_BAD_HEADER_NAME");
  }
  let vs = i + 1;
  let ve = end;
  while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;

  const slot = i - start < MAX_REMEMBERED_NAME ? ((i - start) << 8) | first : -1;
  let name: string;
  if (diff === 0 && i - start === guess.length) {
    name = guess;
  } else {
    if (slot !== -1 && sameBytes(rememberedNames[slot]!, buf, start, i)) {
      name = rememberedNames[slot]!;
    } else {
      name = latin1(buf, start, i);
      if (slot !== -1) rememberedNames[slot] = name;
    }
    if (positional) namesAt[position] = name;
  }
  let value: string;
  if (positional && sameBytes(valuesAt[position]!, buf, vs, ve)) {
    value = valuesAt[position]!;
  } else {
    if (slot !== -1 && sameBytes(rememberedValues[slot]!, buf, vs, ve)) {
      value = rememberedValues[slot]!;
    } else {
      value = latin1(buf, vs, ve);
      // One regex scan of the decoded string is faster than a JS loop over the bytes.
      if (INVALID_FIELD_VALUE.test(value))
        fail("invalid character in header field value", "TSGI_ERR_BAD_HEADER_VALUE");
      if (slot !== -1 && ve - vs <= MAX_REMEMBERED_VALUE) rememberedValues[slot] = value;
    }
    if (positional && ve - vs <= MAX_REMEMBERED_VALUE) valuesAt[position] = value;
  }
  out.push(name, value);
}
