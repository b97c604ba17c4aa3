/**
 * Grammar of the chunked transfer coding's size line (RFC 9112 §7.1):
 * `chunk-size [ chunk-ext ]`. The chunked body's states (size line, data,
 * CRLF, trailers) are the parser's; this is only the syntax of one line.
 */

import { FIELD_VALUE_CHAR, HTAB, hexValue, SP, TCHAR } from "./chars.ts";
import { fail } from "./errors.ts";

/** 16^13 > 2^53: more hex digits than this cannot be an exact chunk size. */
const MAX_CHUNK_SIZE_DIGITS = 13;

/**
 * `chunk-size [ chunk-ext ]` (RFC 9112 §7.1). Extensions are validated and
 * skipped: `*( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )`.
 */
export function parseChunkSizeLine(buf: Buffer, start: number, end: number): number {
  let i = start;
  let size = 0;
  let significant = 0; // leading zeros do not count towards the digit limit
  while (i < end) {
    const h = hexValue(buf[i]!);
    if (h === -1) break;
    if ((size !== 0 || h !== 0) && ++significant > MAX_CHUNK_SIZE_DIGITS) {
      fail("chunk size too large", "TSGI_ERR_BAD_CHUNK");
    }
    size = size * 16 + h;
    i++;
  }
  if (i === start) fail("invalid chunk size", "TSGI_ERR_BAD_CHUNK");
  while (i < end) {
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    if (buf[i] !== 0x3b /* ; */) fail("invalid chunk extension", "TSGI_ERR_BAD_CHUNK");
    i++;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    const nameStart = i;
    while (i < end && TCHAR[buf[i]!] === 1) i++;
    if (i === nameStart) fail("invalid chunk extension", "TSGI_ERR_BAD_CHUNK");
    let j = i;
    while (j < end && (buf[j] === SP || buf[j] === HTAB)) j++;
    if (j < end && buf[j] === 0x3d /* = */) {
      i = j + 1;
      while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
      if (buf[i] === 0x22 /* " */) {
        i = skipQuotedString(buf, i, end);
      } else {
        const valueStart = i;
        while (i < end && TCHAR[buf[i]!] === 1) i++;
        if (i === valueStart) fail("invalid chunk extension", "TSGI_ERR_BAD_CHUNK");
      }
    } else if (j < end && buf[j] !== 0x3b) {
      fail("invalid chunk extension", "TSGI_ERR_BAD_CHUNK");
    }
  }
  return size;
}

/** Skips a quoted-string (RFC 9110 §5.6.4) starting at the opening quote; returns the index after the closing one. */
function skipQuotedString(buf: Buffer, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = buf[i]!;
    if (c === 0x22) return i + 1;
    if (c === 0x5c /* \ */) {
      i++;
      if (i >= end || FIELD_VALUE_CHAR[buf[i]!] !== 1)
        fail("invalid quoted-pair in chunk extension", "TSGI_ERR_BAD_CHUNK");
    } else if (FIELD_VALUE_CHAR[c] !== 1) {
      fail("invalid character in chunk extension", "TSGI_ERR_BAD_CHUNK");
    }
    i++;
  }
  return fail("unterminated quoted-string in chunk extension", "TSGI_ERR_BAD_CHUNK");
}
