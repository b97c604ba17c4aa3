/**
 * The byte tables of src/http1/chars.ts, every one of the 256 entries,
 * against the grammar written out here as predicates (RFC 9110 §5.6.2 tchar,
 * §5.5 field-vchar/obs-text, RFC 3986 for targets and hosts).
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { FIELD_VALUE_CHAR, HOST_CHAR, TARGET_CHAR, TCHAR } from "../../src/http1/chars.ts";

const digit = (b: number) => b >= 0x30 && b <= 0x39;
const alpha = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const oneOf = (chars: string) => (b: number) => chars.includes(String.fromCharCode(b));

const grammar: [string, Uint8Array, (b: number) => boolean][] = [
  ["tchar", TCHAR, (b) => digit(b) || alpha(b) || oneOf("!#$%&'*+-.^_`|~")(b)],
  ["field value", FIELD_VALUE_CHAR, (b) => b === 0x09 || b === 0x20 || (b >= 0x21 && b <= 0x7e) || b >= 0x80],
  ["request-target", TARGET_CHAR, (b) => b >= 0x21 && b <= 0x7e],
  ["host", HOST_CHAR, (b) => digit(b) || alpha(b) || oneOf("-._~%!$&'()*+,;=:[]")(b)],
];

for (const [name, table, accepts] of grammar) {
  test(`the ${name} table holds exactly the bytes its grammar allows`, () => {
    assert.equal(table.length, 256);
    for (let b = 0; b < 256; b++) assert.equal(table[b], accepts(b) ? 1 : 0, `byte 0x${b.toString(16)}`);
  });
}
