/**
 * Generators of HTTP/1.1 request streams for the fuzzers: valid pipelines
 * (with the transcript the core must produce for them), byte mutations, and
 * "token soup" (pieces of the grammar glued at random).
 */

import fc from "fast-check";
import type { SeenRequest, Transcript } from "./support.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,16}$/;
/** Fields the generator leaves alone: they change framing or connection handling, or are singletons. */
const SPECIAL = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "expect",
  "content-type",
  "te",
  "trailer",
]);

export const token = fc.stringMatching(TOKEN);
const fieldName = token.filter((n) => !SPECIAL.has(n.toLowerCase()));
/** A field value without surrounding whitespace: visible ASCII and obs-text, inner SP/HTAB. */
export const fieldValue = fc.oneof(
  fc.constant(""),
  fc.stringMatching(/^[\x21-\x7e\x80-\xff]([\x20-\x7e\t\x80-\xff]{0,28}[\x21-\x7e\x80-\xff])?$/),
);
const ows = fc.constantFrom("", " ", "\t", "  ");
const target = fc.oneof(
  fc.constant("/"),
  fc.stringMatching(
    /^(\/[A-Za-z0-9\-._~!$&'()*+,;=:@]{0,12}){1,4}(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]{0,30})?$/,
  ),
  fc.constant("*"),
);

export interface GenRequest {
  method: string;
  target: string;
  version: 10 | 11;
  fields: { name: string; value: string; before: string; after: string }[];
  body:
    | { kind: "none" }
    | { kind: "length"; data: string }
    | {
        kind: "chunked";
        chunks: { data: string; ext: string }[];
        trailers: { name: string; value: string }[];
      };
}

const bodyBytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1"));
const chunkExt = fc.oneof(
  fc.constant(""),
  fc
    .tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.option(fc.stringMatching(/^[a-z0-9]{1,8}$/)))
    .map(([n, v]) => (v === null ? `;${n}` : `;${n}=${v}`)),
  fc.constant(';q="a b"'),
);

const genRequest: fc.Arbitrary<GenRequest> = fc.record({
  method: fc.oneof(fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"), token),
  target,
  version: fc.constantFrom<10 | 11>(11, 11, 11, 10),
  fields: fc.array(fc.record({ name: fieldName, value: fieldValue, before: ows, after: ows }), {
    maxLength: 6,
  }),
  body: fc.oneof(
    fc.constant({ kind: "none" as const }),
    bodyBytes.map((data) => ({ kind: "length" as const, data })),
    fc.record({
      kind: fc.constant("chunked" as const),
      chunks: fc.array(fc.record({ data: bodyBytes.filter((d) => d.length > 0), ext: chunkExt }), {
        maxLength: 4,
      }),
      trailers: fc.array(fc.record({ name: fieldName, value: fieldValue }), { maxLength: 3 }),
    }),
  ),
});

/** A pipeline: requests one after another, the last possibly asking to close. */
export const genPipeline = fc.record({
  requests: fc.array(genRequest, { minLength: 1, maxLength: 4 }),
  closeLast: fc.boolean(),
});

/** Serializes a pipeline and says what the core must report for it. */
export function render(p: { requests: GenRequest[]; closeLast: boolean }): {
  bytes: Buffer;
  expected: Transcript;
} {
  let out = "";
  const requests: SeenRequest[] = [];
  p.requests.forEach((r, i) => {
    // "*" is only for OPTIONS (RFC 9112 §3.2.4), and HTTP/1.0 has no chunked.
    const method = r.target === "*" ? "OPTIONS" : r.method;
    const body = r.version === 10 && r.body.kind === "chunked" ? { kind: "none" as const } : r.body;
    const last = i === p.requests.length - 1;
    const headers: string[] = ["Host", "example.com"];
    let head = `${method} ${r.target} HTTP/1.${r.version - 10}\r\nHost: example.com\r\n`;
    for (const f of r.fields) {
      head += `${f.name}:${f.before}${f.value}${f.after}\r\n`;
      headers.push(f.name, f.value);
    }
    let bodyText = "";
    let wire = "";
    const trailers: string[] = [];
    if (body.kind === "length") {
      head += `Content-Length: ${body.data.length}\r\n`;
      headers.push("Content-Length", String(body.data.length));
      bodyText = wire = body.data;
    } else if (body.kind === "chunked") {
      head += "Transfer-Encoding: chunked\r\n";
      headers.push("Transfer-Encoding", "chunked");
      for (const c of body.chunks) {
        wire += `${c.data.length.toString(16)}${c.ext}\r\n${c.data}\r\n`;
        bodyText += c.data;
      }
      wire += "0\r\n";
      for (const t of body.trailers) {
        wire += `${t.name}: ${t.value}\r\n`;
        trailers.push(t.name, t.value);
      }
      wire += "\r\n";
    }
    const connection = last && p.closeLast ? "close" : r.version === 10 ? "keep-alive" : null;
    if (connection !== null) {
      head += `Connection: ${connection}\r\n`;
      headers.push("Connection", connection);
    }
    out += `${head}\r\n${wire}`;
    requests.push({
      method,
      target: r.target,
      version: r.version,
      headers,
      body: bodyText,
      trailers,
      complete: true,
    });
  });
  return {
    bytes: Buffer.from(out, "latin1"),
    expected: { requests, end: p.closeLast ? "close" : "open none" },
  };
}

/** Offsets to cut an input of `n` bytes at (sorted, may repeat). */
export function cutsFor(n: number): fc.Arbitrary<number[]> {
  return fc.array(fc.nat({ max: Math.max(n, 1) }), { maxLength: 24 }).map((c) => c.sort((a, b) => a - b));
}

const BYTES = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x00, 0x7f, 0xff, 0x30, 0x3b, 0x22, 0x2c, 0x2f, 0x66, 0x41];

/** Flips, inserts, deletes and duplicates bytes (the mutations of test/http1/fuzz.test.ts, driven by fast-check). */
export const mutations = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.integer({ min: 0, max: 3 }),
    byte: fc.oneof(fc.constantFrom(...BYTES), fc.integer({ min: 0, max: 255 })),
  }),
  { minLength: 1, maxLength: 4 },
);

export function mutate(input: Buffer, ms: { at: number; op: number; byte: number }[]): Buffer {
  let buf = input;
  for (const m of ms) {
    const pos = m.at % (buf.length + 1);
    switch (m.op) {
      case 0:
        if (buf.length > 0) {
          buf = Buffer.from(buf);
          buf[pos % buf.length] = m.byte;
        }
        break;
      case 1:
        buf = Buffer.concat([buf.subarray(0, pos), Buffer.from([m.byte]), buf.subarray(pos)]);
        break;
      case 2:
        buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + 1 + (m.byte % 4))]);
        break;
      default:
        buf = Buffer.concat([
          buf.subarray(0, pos),
          buf.subarray(pos, pos + 1 + (m.byte % 16)),
          buf.subarray(pos),
        ]);
    }
  }
  return buf;
}

/** Pieces of HTTP grammar glued at random: reaches deep states that random bytes never do. */
export const soup = fc
  .array(
    fc.constantFrom(
      "GET ",
      "POST ",
      "/",
      "*",
      " HTTP/1.1",
      " HTTP/1.0",
      "\r\n",
      "\n",
      "\r",
      "Host: a",
      "Host:",
      ": ",
      "Content-Length: 3",
      "Content-Length: 99999",
      "Transfer-Encoding: chunked",
      "Transfer-Encoding: gzip",
      "Connection: close",
      "Expect: 100-continue",
      "0",
      "5",
      "fffffffffffffff",
      ';a="b"',
      "abc",
      " ",
      "\t",
      "\x00",
      "\xff",
      "x".repeat(300),
    ),
    { maxLength: 60 },
  )
  .map((parts) => Buffer.from(parts.join(""), "latin1"));
