/**
 * Inputs the fuzzers found, kept as fixed cases: each one failed an
 * invariant once (see the commit that added it) and must keep passing.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { SMALL_LIMITS, transcript } from "./support.ts";

/** Every cut of `bytes` in two, then byte by byte: all must end as `expected`. */
function assertSplitIndependent(bytes: Buffer, expected: string): void {
  assert.equal(transcript(bytes, []).end, expected, "whole");
  for (let i = 1; i < bytes.length; i++) assert.equal(transcript(bytes, [i]).end, expected, `cut at ${i}`);
  assert.equal(
    transcript(
      bytes,
      Array.from({ length: bytes.length }, (_, i) => i),
    ).end,
    expected,
    "bytewise",
  );
}

test("an over-long request line ending in a bare LF is 414 whether or not its LF came in the same read", () => {
  // Found by the token soup: 414 when cut before the LF, 400 (bare LF) when whole.
  const line = Buffer.from(`${"x".repeat(300)}GET GET \n`, "latin1");
  assertSplitIndependent(line, "error 414 TSGI_ERR_REQUEST_LINE_TOO_LONG");
});

test("an over-long field line ending in a bare LF is 431, however it is split", () => {
  const head = Buffer.from(
    `GET / HTTP/1.1\r\nHost: a\r\nX: ${"v".repeat(SMALL_LIMITS.maxHeaderSize)}\n`,
    "latin1",
  );
  assertSplitIndependent(head, "error 431 TSGI_ERR_HEADERS_TOO_LARGE");
});

test("an over-long trailer line ending in a bare LF is 431, however it is split", () => {
  const body = Buffer.from(
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ${"v".repeat(SMALL_LIMITS.maxHeaderSize)}\n`,
    "latin1",
  );
  assertSplitIndependent(body, "error 431 TSGI_ERR_HEADERS_TOO_LARGE");
});

test("a head exactly at maxHeaderSize is accepted even when its final CRLF is split", () => {
  // 'Host: a\r\n' is 9 bytes; one field fills the rest of the 512 allowed.
  const field = `X: ${"v".repeat(SMALL_LIMITS.maxHeaderSize - 9 - 5)}\r\n`;
  const head = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\n${field}\r\n`, "latin1");
  assertSplitIndependent(head, "open none");
  const over = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX${field}\r\n`, "latin1");
  assertSplitIndependent(over, "error 431 TSGI_ERR_HEADERS_TOO_LARGE");
});
