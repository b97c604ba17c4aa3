/**
 * Grammar of the request line (RFC 9112 §3): `method SP request-target SP
 * HTTP-version`, single spaces only. Syntax only; which target form goes
 * with which method is request-target.ts.
 */

import { latin1, SP, sameBytes, TARGET_CHAR, TCHAR } from "./chars.ts";
import { fail } from "./errors.ts";
import { checkTargetForm } from "./request-target.ts";

/** The parts of a request line; one per parser, overwritten by each request. */
export interface RequestLine {
  /** "" until the request line of the current request has been read. */
  method: string;
  target: string;
  version: 10 | 11;
}

// Clients send the same few methods, and often the same target, again and
// again: the last of each is kept and reused when the bytes match (see
// sameBytes in chars.ts), one slot per method length and first byte.
const MAX_REMEMBERED_METHOD = 16;
const rememberedMethods: string[] = new Array(MAX_REMEMBERED_METHOD * 256).fill("");
const MAX_REMEMBERED_TARGET = 256;
let rememberedTarget = "";

/** Parses `buf[start..end)` (the line without CRLF) into `into`. */
export function parseRequestLine(buf: Buffer, start: number, end: number, into: RequestLine): void {
  let i = start;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === start || i === end || buf[i] !== SP) {
    if (i < end && buf[i] !== SP) fail("invalid character in method", "TSGI_ERR_BAD_METHOD");
    fail("malformed request line", "TSGI_ERR_BAD_REQUEST_LINE");
  }
  let method: string;
  const slot = i - start < MAX_REMEMBERED_METHOD ? ((i - start) << 8) | buf[start]! : -1;
  if (slot !== -1 && sameBytes(rememberedMethods[slot]!, buf, start, i)) {
    method = rememberedMethods[slot]!;
  } else {
    method = latin1(buf, start, i);
    if (slot !== -1) rememberedMethods[slot] = method;
  }
  const targetStart = ++i;
  while (i < end && TARGET_CHAR[buf[i]!] === 1) i++;
  if (i === targetStart) fail("malformed request line", "TSGI_ERR_BAD_REQUEST_LINE");
  if (i === end || buf[i] !== SP) {
    if (i < end && buf[i] !== SP) fail("invalid character in request target", "TSGI_ERR_BAD_TARGET");
    fail("request line has no HTTP version", "TSGI_ERR_BAD_REQUEST_LINE");
  }
  let target: string;
  if (sameBytes(rememberedTarget, buf, targetStart, i)) {
    target = rememberedTarget;
  } else {
    target = latin1(buf, targetStart, i);
    if (i - targetStart <= MAX_REMEMBERED_TARGET) rememberedTarget = target;
  }
  into.version = parseVersion(buf, i + 1, end);
  checkTargetForm(method, target);
  into.method = method;
  into.target = target;
}

/** Parses `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3): 1.0 and 1.1 accepted, other 1-digit versions → 505, anything else → 400. */
function parseVersion(buf: Buffer, start: number, end: number): 10 | 11 {
  if (
    end - start !== 8 ||
    buf[start] !== 0x48 || // H
    buf[start + 1] !== 0x54 || // T
    buf[start + 2] !== 0x54 || // T
    buf[start + 3] !== 0x50 || // P
    buf[start + 4] !== 0x2f || // /
    buf[start + 6] !== 0x2e // .
  ) {
    fail("malformed HTTP version", "TSGI_ERR_BAD_VERSION");
  }
  const major = buf[start + 5]! - 0x30;
  const minor = buf[start + 7]! - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9)
    fail("malformed HTTP version", "TSGI_ERR_BAD_VERSION");
  if (major === 1 && minor === 1) return 11;
  if (major === 1 && minor === 0) return 10;
  return fail(`HTTP/${major}.${minor} is not supported`, "TSGI_ERR_UNSUPPORTED_VERSION", 505);
}
