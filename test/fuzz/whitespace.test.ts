/**
 * Issue 12: Unicode whitespace is not HTTP whitespace. JavaScript's trim(),
 * trimStart(), trimEnd() and `\s` remove U+00A0 and other Unicode spaces;
 * HTTP's OWS is SP and HTAB only (RFC 9110 §5.6.3, RFC 9112 §5). A proxy in
 * front of tsgi keeps such a byte as part of the value, so if we dropped it
 * the two would read the request differently (request smuggling for
 * Transfer-Encoding and Content-Length, spoofing for X-Forwarded-*).
 *
 * For every header value the server interprets, a generated mix of Unicode
 * spaces and OWS is put around the value (0xA0 and 0x85 as the latin-1 bytes
 * of U+00A0 and U+0085, the others as their UTF-8 bytes), the request is fed
 * in generated pieces, and the meaning the server takes from it (framing,
 * keep-alive, expectation, Host, upgrade, WebSocket handshake and extension
 * negotiation, forwarded client) must differ from the unpadded request's.
 * Framing fields, Host and Expect must be refused outright. A control
 * property pads with SP/HTAB only and expects the unpadded meaning, so the
 * comparison itself is shown to work.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ServerConnection } from "../../src/http1/connection.ts";
import { RemoteProtocolError } from "../../src/http1/errors.ts";
import { NEED_DATA, PAUSED, type RequestHead } from "../../src/http1/events.ts";
import { forwardedClient, TrustedProxies } from "../../src/server/proxy-headers.ts";
import { negotiateDeflate } from "../../src/websocket/deflate.ts";
import { HandshakeError } from "../../src/websocket/errors.ts";
import { checkHandshake } from "../../src/websocket/handshake.ts";
import { cutsFor } from "./requests.ts";
import { budget, checkProperty } from "./support.ts";

const MS = budget(400);

const utf8 = (s: string): string => Buffer.from(s, "utf8").toString("latin1");

/** Unicode spaces as the bytes a client could send, read as latin-1 (one char per byte). */
const UNICODE_SPACES: readonly string[] = [
  "\xa0", // U+00A0 in latin-1: what trim() strips
  "\x85", // U+0085 in latin-1
  utf8("\u00a0"),
  ...Array.from({ length: 11 }, (_, i) => utf8(String.fromCharCode(0x2000 + i))), // U+2000-U+200A
  utf8("\u3000"),
  utf8("\ufeff"),
  utf8("\u0085"),
];

/** A pad around a value: some OWS and Unicode spaces, with at least one Unicode space somewhere. */
const unicodePads = fc
  .tuple(
    fc.array(fc.constantFrom(...UNICODE_SPACES, " ", "\t"), { maxLength: 3 }),
    fc.array(fc.constantFrom(...UNICODE_SPACES, " ", "\t"), { maxLength: 3 }),
    fc.constantFrom(...UNICODE_SPACES),
    fc.boolean(),
  )
  .map(([before, after, space, first]) =>
    first
      ? { before: space + before.join(""), after: after.join("") }
      : { before: before.join(""), after: after.join("") + space },
  );

/** A pad of OWS only (the control). */
const owsPads = fc
  .tuple(
    fc.array(fc.constantFrom(" ", "\t"), { maxLength: 3 }),
    fc.array(fc.constantFrom(" ", "\t"), { maxLength: 3 }),
  )
  .map(([before, after]) => ({ before: before.join(""), after: after.join("") }));

/** Feeds `bytes` cut at `cuts` to a fresh connection; the first request head, or the refusal. */
function firstHead(bytes: Buffer, cuts: number[]): RequestHead | string {
  const conn = new ServerConnection({ date: null, serverHeader: null });
  let from = 0;
  try {
    for (const cut of [...cuts, bytes.length]) {
      if (cut > from) conn.receiveData(bytes.subarray(from, cut));
      from = Math.max(from, cut);
      for (;;) {
        const ev = conn.nextEvent();
        if (ev === NEED_DATA || ev === PAUSED) break;
        if (ev.type === "request") return ev;
      }
    }
  } catch (err) {
    if (err instanceof RemoteProtocolError) return `error ${err.status} ${err.code}`;
    throw err;
  }
  return "incomplete";
}

/** What the HTTP core makes of a head: framing, keep-alive, expectation, Host, upgrade. */
function core(head: RequestHead): string {
  const { framing, contentLength, keepAlive, expectContinue, host, upgrade } = head;
  return JSON.stringify({ framing, contentLength, keepAlive, expectContinue, host, upgrade });
}

/** What the WebSocket handshake and permessage-deflate negotiation make of it. */
function webSocket(head: RequestHead): string {
  try {
    const h = checkHandshake(head);
    const deflate = negotiateDeflate(h.extensions)?.response ?? "declined";
    return JSON.stringify({ key: h.key, protocols: h.protocols, deflate, upgrade: head.upgrade });
  } catch (err) {
    if (err instanceof HandshakeError) return `handshake refused ${err.status}`;
    throw err;
  }
}

const TRUST = TrustedProxies.parse("127.0.0.1");
/** Who the request is from, behind a trusted proxy at 127.0.0.1. */
function forwarded(head: RequestHead): string {
  return JSON.stringify(forwardedClient(head.headers, "127.0.0.1", TRUST));
}

const WS_FIELDS: [string, string][] = [
  ["Host", "a.example"],
  ["Upgrade", "websocket"],
  ["Connection", "Upgrade"],
  ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
  ["Sec-WebSocket-Version", "13"],
  ["Sec-WebSocket-Protocol", "chat"],
  ["Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"],
];

function wsRequest(field: string, value: string): string {
  const lines = WS_FIELDS.map(([name, v]) => `${name}: ${name === field ? value : v}\r\n`).join("");
  return `GET /chat HTTP/1.1\r\n${lines}\r\n`;
}

interface Case {
  /** The field (and the part of its value) that gets padded. */
  name: string;
  /** The request with `pad.before + value + pad.after` in place. */
  request: (padded: string) => string;
  value: string;
  /** The meaning the server takes from a parsed head. */
  meaning: (head: RequestHead) => string;
  /** The exact refusal a padded value must get, when it must be refused. */
  refusal?: string;
}

const CASES: Case[] = [
  {
    name: "Transfer-Encoding",
    request: (v) => `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${v}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    value: "chunked",
    meaning: core,
    refusal: "error 400 TSGI_ERR_BAD_TRANSFER_ENCODING",
  },
  {
    name: "Transfer-Encoding (element after gzip)",
    request: (v) => `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,${v}\r\n\r\n0\r\n\r\n`,
    value: "chunked",
    meaning: core,
    refusal: "error 400 TSGI_ERR_BAD_TRANSFER_ENCODING",
  },
  {
    name: "Content-Length",
    request: (v) => `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${v}\r\n\r\nhello`,
    value: "5",
    meaning: core,
    refusal: "error 400 TSGI_ERR_BAD_CONTENT_LENGTH",
  },
  {
    name: "Host",
    request: (v) => `GET / HTTP/1.1\r\nHost: ${v}\r\n\r\n`,
    value: "a.example",
    meaning: core,
    refusal: "error 400 TSGI_ERR_BAD_HOST",
  },
  {
    name: "Expect",
    request: (v) => `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: ${v}\r\n\r\nhello`,
    value: "100-continue",
    meaning: core,
    refusal: "error 417 TSGI_ERR_EXPECTATION_FAILED",
  },
  {
    name: "Connection: close",
    request: (v) => `GET / HTTP/1.1\r\nHost: a\r\nConnection: ${v}\r\n\r\n`,
    value: "close",
    meaning: core,
  },
  {
    name: "Connection: keep-alive (HTTP/1.0)",
    request: (v) => `GET / HTTP/1.0\r\nConnection: x, ${v}\r\n\r\n`,
    value: "keep-alive",
    meaning: core,
  },
  {
    name: "Connection: upgrade (core)",
    request: (v) => `GET / HTTP/1.1\r\nHost: a\r\nConnection: ${v}\r\nUpgrade: websocket\r\n\r\n`,
    value: "upgrade",
    meaning: core,
  },
  ...WS_FIELDS.map(
    ([field, value]): Case => ({
      name: `${field} (WebSocket handshake)`,
      request: (v) => wsRequest(field, v),
      value,
      meaning: webSocket,
    }),
  ),
  {
    name: "Sec-WebSocket-Extensions parameter value",
    request: (v) => wsRequest("Sec-WebSocket-Extensions", `permessage-deflate; server_max_window_bits=${v}`),
    value: "10",
    meaning: webSocket,
  },
  {
    name: "X-Forwarded-For",
    request: (v) => `GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.9.9.9, ${v}\r\n\r\n`,
    value: "203.0.113.7",
    meaning: forwarded,
  },
  {
    name: "X-Forwarded-Proto",
    request: (v) =>
      `GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: ${v}\r\n\r\n`,
    value: "https",
    meaning: forwarded,
  },
  {
    name: "X-Forwarded-Host",
    request: (v) =>
      `GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Host: ${v}\r\n\r\n`,
    value: "b.example",
    meaning: forwarded,
  },
  {
    name: "Forwarded (whole value)",
    request: (v) => `GET / HTTP/1.1\r\nHost: a\r\nForwarded: ${v}\r\n\r\n`,
    value: "for=203.0.113.7;proto=https;host=b.example",
    meaning: forwarded,
  },
  {
    name: "Forwarded (element after a comma)",
    request: (v) => `GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=10.9.9.9,${v}\r\n\r\n`,
    value: "for=203.0.113.7;proto=https",
    meaning: forwarded,
  },
];

/** The server's reading of `c` with `padded` in place, fed cut at `cuts`. */
function reading(c: Case, padded: string, cuts: number[]): string {
  const head = firstHead(Buffer.from(c.request(padded), "latin1"), cuts);
  return typeof head === "string" ? head : c.meaning(head);
}

const withCuts = <T>(pads: fc.Arbitrary<T>) =>
  fc
    .tuple(fc.constantFrom(...CASES), pads)
    .chain(([c, pad]) => fc.tuple(fc.constant(c), fc.constant(pad), cutsFor(c.request(c.value).length + 12)));

test("the unpadded requests are read as meant (so a differing reading means something)", () => {
  const readings = Object.fromEntries(CASES.map((c) => [c.name, reading(c, c.value, [])]));
  // gzip is a coding we do not decode (RFC 9112 §6.1: 501); padded, that request must become a 400 instead.
  const gzip = "Transfer-Encoding (element after gzip)";
  assert.equal(readings[gzip], "error 501 TSGI_ERR_UNSUPPORTED_TRANSFER_CODING");
  for (const c of CASES.filter((c) => c.name !== gzip))
    assert.doesNotMatch(readings[c.name]!, /^(error|incomplete|handshake refused)/, c.name);
  assert.match(readings["Transfer-Encoding"]!, /"framing":"chunked"/);
  assert.match(readings["Connection: close"]!, /"keepAlive":false/);
  assert.match(readings["Sec-WebSocket-Extensions parameter value"]!, /server_max_window_bits=10/);
  assert.match(readings["X-Forwarded-For"]!, /"address":"203.0.113.7"/);
  assert.match(readings["X-Forwarded-Proto"]!, /"tls":true/);
  assert.match(readings["Forwarded (whole value)"]!, /"host":"b.example"/);
});

test("Unicode whitespace around an interpreted header value never reads as the bare value", (t) => {
  const runs = checkProperty(
    "unicode-padded header values",
    fc.property(withCuts(unicodePads), ([c, pad, cuts]) => {
      const padded = reading(c, pad.before + c.value + pad.after, cuts);
      assert.notEqual(padded, reading(c, c.value, []), `${c.name}: ${JSON.stringify(pad)}`);
      if (c.refusal !== undefined) assert.equal(padded, c.refusal, `${c.name}: ${JSON.stringify(pad)}`);
    }),
    MS,
    CASES.length * 4,
  );
  t.diagnostic(`${runs} padded requests`);
});

test("control: SP/HTAB around the same values is OWS and reads as the bare value", (t) => {
  // Every padded spot is one where the grammar allows OWS (or BWS, RFC 7692 §5.1 uses RFC 9110 lists).
  const trimmed = CASES;
  const runs = checkProperty(
    "OWS-padded header values",
    fc.property(
      fc
        .tuple(fc.constantFrom(...trimmed), owsPads)
        .chain(([c, pad]) =>
          fc.tuple(fc.constant(c), fc.constant(pad), cutsFor(c.request(c.value).length + 12)),
        ),
      ([c, pad, cuts]) => {
        assert.equal(reading(c, pad.before + c.value + pad.after, cuts), reading(c, c.value, []), c.name);
      },
    ),
    MS,
    trimmed.length * 4,
  );
  t.diagnostic(`${runs} OWS-padded requests`);
});
