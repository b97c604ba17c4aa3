/**
 * The incremental UTF-8 validator (src/websocket/utf8.ts) against Node's
 * native `isUtf8` on whole inputs: for every input and every way of cutting
 * it in two or three pieces, the verdict is the same, and a rejection comes
 * at the first piece that makes the input invalid.
 */

import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { test } from "node:test";
import { Utf8Validator } from "../../src/websocket/utf8.ts";

/** Piece index at which validation fails, or -1 when the whole input is valid. */
function failsAt(pieces: Uint8Array[]): number {
  const v = new Utf8Validator();
  for (let i = 0; i < pieces.length; i++) if (!v.feed(pieces[i]!)) return i;
  return v.complete ? -1 : pieces.length;
}

/** Whether some prefix of `b` of length ≤ n cannot start any valid UTF-8 text (so a validator must have failed by then). */
function prefixDoomed(b: Uint8Array, n: number): boolean {
  // A prefix is still viable if it is valid, or valid up to an incomplete final sequence that some continuation completes.
  const p = b.subarray(0, n);
  for (const tail of [
    [],
    [0x80],
    [0x80, 0x80],
    [0x80, 0x80, 0x80],
    [0xa0, 0x80],
    [0x90, 0x80, 0x80],
    [0x8f, 0x80, 0x80],
    [0x9f, 0x80],
  ]) {
    if (isUtf8(Buffer.concat([p, Buffer.from(tail)]))) return false;
  }
  return true;
}

const samples: number[][] = [
  [...Buffer.from("plain ascii")],
  [...Buffer.from("héllo wörld € 😀 𐍈 ")],
  [0xc2, 0x80],
  [0xdf, 0xbf],
  [0xe0, 0xa0, 0x80],
  [0xe0, 0x9f, 0x80], // overlong
  [0xed, 0x9f, 0xbf],
  [0xed, 0xa0, 0x80], // surrogate
  [0xef, 0xbf, 0xbf],
  [0xf0, 0x90, 0x80, 0x80],
  [0xf0, 0x8f, 0xbf, 0xbf], // overlong
  [0xf4, 0x8f, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], // > U+10FFFF
  [0xf5, 0x80, 0x80, 0x80],
  [0xc0, 0xaf],
  [0xc1, 0xbf],
  [0x80],
  [0xbf, 0x41],
  [0x41, 0xe2, 0x82],
  [0xe2, 0x82, 0x41],
  [0xf0, 0x9f, 0x98],
  [0xf0, 0x9f, 0x98, 0x80, 0x80],
  [0xfe],
  [0xff, 0xfe],
  [0x61, 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64],
];

test("same verdict as isUtf8 for every cut into two and three pieces, failing at the first doomed piece", () => {
  for (const sample of samples) {
    const b = Buffer.from(sample);
    const valid = isUtf8(b);
    const n = b.length;
    for (let i = 0; i <= n; i++) {
      for (let j = i; j <= n; j++) {
        const pieces = [b.subarray(0, i), b.subarray(i, j), b.subarray(j)];
        const at = failsAt(pieces);
        const label = `${b.toString("hex")} cut at ${i},${j}`;
        if (valid) {
          assert.equal(at, -1, label);
          continue;
        }
        assert.notEqual(at, -1, label);
        // Fail fast: no later than the first piece whose end makes the input doomed…
        const ends = [i, j, n];
        const firstDoomed = ends.findIndex((e) => prefixDoomed(b, e));
        if (firstDoomed !== -1) assert.equal(at, firstDoomed, label);
        // …and an input that is only cut short fails at the end, after the last piece.
        else assert.equal(at, 3, label);
      }
    }
  }
});

test("reset() forgets a sequence in progress", () => {
  const v = new Utf8Validator();
  assert.ok(v.feed(Buffer.from([0xe2, 0x82])));
  assert.equal(v.complete, false);
  v.reset();
  assert.ok(v.complete);
  assert.ok(v.feed(Buffer.from("a")));
});

test("random bytes, random pieces: agrees with isUtf8", () => {
  let seed = 7;
  const rand = (k: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % k;
  };
  const alphabet = [
    0x41, 0x7f, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xa0, 0x90, 0x8f, 0x9f,
  ];
  let valid = 0;
  for (let round = 0; round < 3000; round++) {
    const len = rand(12);
    const b = Buffer.from(Array.from({ length: len }, () => alphabet[rand(alphabet.length)]!));
    const pieces: Buffer[] = [];
    for (let p = 0; p < len; ) {
      const k = 1 + rand(4);
      pieces.push(b.subarray(p, p + k));
      p += k;
    }
    const ok = failsAt(pieces) === -1;
    assert.equal(ok, isUtf8(b), b.toString("hex"));
    if (ok) valid++;
  }
  assert.ok(valid > 100, "the generator produces valid inputs too");
});
