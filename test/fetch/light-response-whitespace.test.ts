/**
 * Issue 12: LightResponse ends with header values exactly as `new Headers()`
 * keeps them (padded values leave the fast path for the native Headers) and (Fetch: strip leading and trailing HTTP whitespace, i.e. TAB, LF, CR,
 * SP), never as `String.prototype.trim()`, which also strips U+00A0 and other
 * Unicode spaces. Otherwise the fast path and a native Response would send
 * different bytes for the same app code.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { LightResponse } from "../../src/gateways/fetch/light-response.ts";

/** Values a Headers object takes (ByteStrings: every char <= U+00FF). */
const VALUES = [" \t plain \t ", "\xa0nbsp\xa0", "\x85nel\x85", "\r\n\tcrlf\r\n", " \xa0 mixed \xa0 "];

test("header values equal what new Headers() keeps, on the fast path or off it, for object and array inits", () => {
  for (const value of VALUES) {
    const native = new Headers({ "x-v": value }).get("x-v");
    for (const headers of [{ "x-v": value }, [["x-v", value]] as [string, string][]]) {
      const response = new LightResponse(new Uint8Array(0), { headers });
      // What the server writes: the fast path's list when it holds, else the Headers.
      const parts = LightResponse.parts(response);
      if (parts !== null) assert.deepEqual(parts.headers, ["x-v", native], JSON.stringify(value));
      assert.equal(response.headers.get("x-v"), native, JSON.stringify(value));
    }
  }
  // What that means: only TAB/LF/CR/SP go; U+00A0 stays.
  assert.equal(new Headers({ a: "\xa0nbsp\xa0" }).get("a"), "\xa0nbsp\xa0");
});
