/**
 * Property-based fuzzing (fast-check) of the sans-IO HTTP/1.1 core.
 *
 * - Generated pipelines of valid requests parse to exactly what was generated,
 *   however the bytes are split.
 * - The same pipelines, mutated, and token soup: the core throws nothing but
 *   RemoteProtocolError, always makes progress, never holds more than its head
 *   limits plus one piece, and gives the same transcript however the bytes are split.
 * - Whatever the serializer writes for a valid response head and body parses
 *   back (with a small strict response parser) to that status, those fields and
 *   that body; an invalid one is refused with LocalProtocolError and nothing written.
 *
 * Each property runs for a short budget in `npm test`, for FUZZ_MS each under
 * `npm run fuzz`; a failure names the FUZZ_SEED that replays it.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ServerConnection } from "../../src/http1/connection.ts";
import { LocalProtocolError } from "../../src/http1/errors.ts";
import { cutsFor, fieldValue, genPipeline, mutate, mutations, render, soup, token } from "./requests.ts";
import { budget, checkProperty, parseResponse, SMALL_LIMITS, transcript } from "./support.ts";

const MS = budget(500);

// ---- properties ------------------------------------------------------------------

test("valid pipelines parse to exactly what was generated, however the bytes are split", (t) => {
  const runs = checkProperty(
    "valid pipelines",
    fc.property(
      genPipeline.chain((p) => {
        const r = render(p);
        return fc.tuple(fc.constant(r), cutsFor(r.bytes.length));
      }),
      ([{ bytes, expected }, cuts]) => {
        assert.deepEqual(transcript(bytes, []), expected);
        assert.deepEqual(transcript(bytes, cuts), expected);
      },
    ),
    MS,
  );
  t.diagnostic(`${runs} pipelines`);
});

test("mutated pipelines: only RemoteProtocolError, progress, bounded memory, split-independent", (t) => {
  const runs = checkProperty(
    "mutated pipelines",
    fc.property(
      fc.tuple(genPipeline, mutations).chain(([p, m]) => {
        const bytes = mutate(render(p).bytes, m);
        return fc.tuple(fc.constant(bytes), cutsFor(bytes.length));
      }),
      ([bytes, cuts]) => {
        assert.deepEqual(transcript(bytes, cuts), transcript(bytes, []));
      },
    ),
    MS,
  );
  t.diagnostic(`${runs} mutated pipelines`);
});

test("token soup and random bytes: the same invariants", (t) => {
  const runs = checkProperty(
    "token soup",
    fc.property(
      fc
        .oneof(
          soup,
          fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
        )
        .chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length))),
      ([bytes, cuts]) => {
        assert.deepEqual(transcript(bytes, cuts), transcript(bytes, []));
      },
    ),
    MS,
  );
  t.diagnostic(`${runs} soups`);
});

test("a request head at the limits: the bound on held bytes is tight, not vacuous", () => {
  // 12 fields of 40 bytes = 480 of the 512 allowed, then a 13th: 431, never more held than the bound.
  const fields = Array.from(
    { length: 11 },
    (_, i) => `X-Field-${String(i).padStart(2, "0")}: ${"v".repeat(24)}\r\n`,
  );
  const head = `GET / HTTP/1.1\r\nHost: a\r\n${fields.join("")}`;
  const ok = transcript(Buffer.from(`${head}\r\n`, "latin1"), [10, 100, 200]);
  assert.equal(ok.requests.length, 1);
  const tooMany = transcript(Buffer.from(`${head}X-One-More: 1\r\n\r\n`, "latin1"), [5]);
  assert.equal(tooMany.end, "error 431 TSGI_ERR_TOO_MANY_HEADERS");
  // A head that never ends is refused as soon as it passes the limits, byte by byte or at once.
  const endless = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX: ${"a".repeat(600)}`, "latin1");
  const cuts = Array.from({ length: endless.length }, (_, i) => i);
  assert.equal(transcript(endless, cuts).end, "error 431 TSGI_ERR_HEADERS_TOO_LARGE");
  assert.equal(transcript(endless, []).end, "error 431 TSGI_ERR_HEADERS_TOO_LARGE");
  assert.equal(SMALL_LIMITS.maxHeaderSize, 512);
});

// ---- the serializer ------------------------------------------------------------------

/** Response fields the server owns or rewrites; the round trip compares the rest. */
const OWNED = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"]);

const genResponse = fc.record({
  method: fc.constantFrom("GET", "HEAD", "POST"),
  version: fc.constantFrom<10 | 11>(11, 11, 10),
  clientClose: fc.boolean(),
  status: fc.oneof(fc.constantFrom(200, 204, 304, 404, 500), fc.integer({ min: 200, max: 999 })),
  reason: fc.option(fc.stringMatching(/^[\x20-\x7e\x80-\xff\t]{0,20}$/)),
  fields: fc.array(fc.tuple(token, fieldValue), { maxLength: 6 }),
  appClose: fc.boolean(),
  body: fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }),
  mode: fc.constantFrom("whole", "stream", "stream-length"),
});

test("serializer output parses back to the same status, fields and body", (t) => {
  const runs = checkProperty(
    "serializer round trip",
    fc.property(genResponse, (r) => {
      const conn = new ServerConnection({ date: () => "Thu, 01 Jan 2026 00:00:00 GMT" });
      const connection = r.clientClose ? "close" : r.version === 10 ? "keep-alive" : null;
      conn.receiveData(
        Buffer.from(
          `${r.method} / HTTP/1.${r.version - 10}\r\nHost: a\r\n${connection ? `Connection: ${connection}\r\n` : ""}\r\n`,
          "latin1",
        ),
      );
      assert.equal((conn.nextEvent() as { type: string }).type, "request");
      assert.equal((conn.nextEvent() as { type: string }).type, "end");
      const body = Buffer.concat(r.body);
      const headers = r.fields.filter(([n]) => !OWNED.has(n.toLowerCase())).flat();
      if (r.appClose) headers.push("Connection", "close");
      if (r.mode === "stream-length") headers.push("Content-Length", String(body.length));
      const head = { status: r.status, headers, ...(r.reason === null ? {} : { reason: r.reason }) };
      let bytes: Buffer;
      if (r.mode === "whole") {
        bytes = conn.sendResponse(head, body);
      } else {
        const parts: Uint8Array[] = [conn.sendResponse(head)];
        for (const piece of r.body) parts.push(...conn.sendData(piece));
        const last = conn.sendEnd();
        if (last !== null) parts.push(last);
        bytes = Buffer.concat(parts);
      }
      const parsed = parseResponse(bytes, r.method);
      assert.equal(parsed.status, r.status);
      if (r.reason !== null) assert.equal(parsed.reason, r.reason);
      const own = (pairs: [string, string][]) => pairs.filter(([n]) => !OWNED.has(n.toLowerCase()));
      assert.deepEqual(own(parsed.headers), own(r.fields));
      const bodiless = r.method === "HEAD" || r.status === 204 || r.status === 304;
      assert.deepEqual(parsed.body, bodiless ? Buffer.alloc(0) : body);
      assert.equal(parsed.rest, 0, "bytes after the response");
      const closes = parsed.headers.some(([n, v]) => n === "Connection" && v === "close");
      assert.equal(conn.reusable, !closes, "Connection: close sent exactly when the connection will close");
      if (parsed.framing === "close") assert.ok(closes, "a body delimited by close says Connection: close");
    }),
    MS,
  );
  t.diagnostic(`${runs} responses`);
});

test("a response field with CR, LF, NUL or another CTL is refused, nothing is written, and a 500 can follow", (t) => {
  const bad = fc.oneof(
    fc.tuple(
      token,
      fc
        .tuple(fieldValue, fc.constantFrom("\r", "\n", "\r\n", "\x00", "\x01", "\x7f", "\u0100"), fieldValue)
        .map((p) => p.join("")),
    ),
    fc
      .tuple(
        fc
          .tuple(
            token,
            fc.constantFrom("\r\n", " ", ":", "\x00", "\n", ""),
            fc.stringMatching(/^[a-z]{0,4}$/),
          )
          .map((p) => p.join("")),
        fieldValue,
      )
      .filter(([n]) => !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(n)),
  );
  const runs = checkProperty(
    "header injection",
    fc.property(bad, fc.boolean(), ([name, value], streamed) => {
      const conn = new ServerConnection();
      conn.receiveData(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
      conn.nextEvent();
      conn.nextEvent();
      assert.throws(
        () =>
          conn.sendResponse({ status: 200, headers: [name, value] }, streamed ? undefined : Buffer.from("x")),
        (err: unknown) => err instanceof LocalProtocolError && err.code === "TSGI_ERR_BAD_RESPONSE_HEADER",
      );
      assert.equal(conn.ourState, "SEND_RESPONSE");
      const error = conn.sendError({ status: 500, message: "internal error" });
      assert.ok(error?.toString("latin1").startsWith("HTTP/1.1 500 "));
      assert.equal(conn.ourState, "MUST_CLOSE");
    }),
    MS,
  );
  t.diagnostic(`${runs} injections refused`);
});
