/**
 * Byte-exact tests of the sans-IO request parser (src/http1/parser.ts).
 * Every input is a literal byte string (read as latin-1, one char per byte);
 * every refusal is checked for its exact `status` and `code`.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type ConnectionClosed,
  type EndOfMessage,
  NEED_DATA,
  PAUSED,
  type ParserLimits,
  type ProtocolErrorCode,
  RemoteProtocolError,
  type RequestHead,
  RequestParser,
} from "../../src/http1/index.ts";

// ---- helpers ----------------------------------------------------------------

const bytes = (s: string): Buffer => Buffer.from(s, "latin1");

/** An event with the body piece copied out as a latin-1 string (pieces view the input). */
type Ev =
  | RequestHead
  | { type: "data"; data: string }
  | EndOfMessage
  | ConnectionClosed
  | { type: "error"; status: number; code: ProtocolErrorCode };

/** Events until NEED_DATA, PAUSED or "closed". */
function drain(p: RequestParser): Ev[] {
  const out: Ev[] = [];
  for (;;) {
    const ev = p.nextEvent();
    if (ev === NEED_DATA || ev === PAUSED) return out;
    out.push(ev.type === "data" ? { type: "data", data: Buffer.from(ev.data).toString("latin1") } : ev);
    if (ev.type === "closed") return out;
  }
}

/** Feeds `input` whole to a fresh parser and returns the events of the first request. */
function parse(input: string, limits?: Partial<ParserLimits>): Ev[] {
  const p = new RequestParser(limits);
  p.receiveData(bytes(input));
  return drain(p);
}

/** The request head of `input` (which must parse). */
function head(input: string, limits?: Partial<ParserLimits>): RequestHead {
  const ev = parse(input, limits)[0];
  assert.ok(ev !== undefined && ev.type === "request", "expected a request head");
  return ev;
}

/** The body of `input` (all data pieces joined) and its trailers. */
function body(input: string, limits?: Partial<ParserLimits>): { body: string; trailers: string[] } {
  const events = parse(input, limits);
  const last = events[events.length - 1];
  assert.ok(last !== undefined && last.type === "end", "expected a complete message");
  let text = "";
  for (const ev of events) if (ev.type === "data") text += ev.data;
  return { body: text, trailers: last.trailers };
}

function remoteError(fn: () => unknown): RemoteProtocolError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RemoteProtocolError) return err;
    throw err;
  }
  return assert.fail("expected a RemoteProtocolError");
}

/** Asserts that parsing `input` (optionally followed by EOF) fails with exactly `status` and `code`. */
function rejects(
  input: string,
  status: number,
  code: ProtocolErrorCode,
  options: { limits?: Partial<ParserLimits>; eof?: boolean } = {},
): void {
  const p = new RequestParser(options.limits);
  const err = remoteError(() => {
    p.receiveData(bytes(input));
    if (options.eof) p.receiveEOF();
    drain(p);
  });
  assert.deepEqual({ status: err.status, code: err.code }, { status, code });
}

const show = (s: string): string => JSON.stringify(s);

// ---- request line -------------------------------------------------------------

describe("request line", () => {
  test("a complete head exposes every field", () => {
    const input =
      "POST /upload?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    assert.deepEqual(parse(input), [
      {
        type: "request",
        method: "POST",
        target: "/upload?x=1",
        version: 11,
        headers: ["Host", "example.com:8080", "Content-Type", "text/plain", "Content-Length", "5"],
        host: "example.com:8080",
        framing: "length",
        contentLength: 5,
        keepAlive: true,
        expectContinue: false,
        upgrade: "",
      },
      { type: "data", data: "hello" },
      { type: "end", trailers: [] },
    ]);
  });

  test("a body-less GET: request, end, then PAUSED", () => {
    const p = new RequestParser();
    p.receiveData(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    const h = p.nextEvent();
    assert.ok(typeof h === "object" && h.type === "request");
    assert.equal(h.framing, "none");
    assert.deepEqual(p.nextEvent(), { type: "end", trailers: [] });
    assert.equal(p.nextEvent(), PAUSED);
    assert.equal(p.paused, true);
  });

  test("trailers: none gives an empty frozen list; a chunked message's own trailers are not seen by the next", () => {
    const p = new RequestParser();
    p.receiveData(
      bytes(
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n" +
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Sum: 1\r\n\r\n" +
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      ),
    );
    const ends: EndOfMessage[] = [];
    for (let i = 0; i < 3; i++) {
      for (const ev of drain(p)) if (ev.type === "end") ends.push(ev);
      p.startNextCycle();
    }
    assert.deepEqual(
      ends.map((e) => e.trailers),
      [[], ["X-Sum", "1"], []],
    );
    assert.ok(Object.isFrozen(ends[0]!.trailers) && Object.isFrozen(ends[2]!.trailers));
    assert.throws(() => ends[0]!.trailers.push("X", "1"), TypeError);
  });

  for (const method of ["GET", "get", "M-SEARCH", "X!#$%&'*+-.^_`|~9"]) {
    test(`method ${show(method)} is a token and is kept as sent`, () => {
      assert.equal(head(`${method} / HTTP/1.1\r\nHost: a\r\n\r\n`).method, method);
    });
  }

  const badLines: [string, number, ProtocolErrorCode][] = [
    ["GET  / HTTP/1.1", 400, "TSGI_ERR_BAD_REQUEST_LINE"],
    ["GET /  HTTP/1.1", 400, "TSGI_ERR_BAD_VERSION"],
    ["GET / HTTP/1.1 ", 400, "TSGI_ERR_BAD_VERSION"],
    [" GET / HTTP/1.1", 400, "TSGI_ERR_BAD_REQUEST_LINE"],
    ["GET\t/ HTTP/1.1", 400, "TSGI_ERR_BAD_METHOD"],
    ["GET /\tHTTP/1.1", 400, "TSGI_ERR_BAD_TARGET"],
    ["GET / \tHTTP/1.1", 400, "TSGI_ERR_BAD_VERSION"],
    ["G@T / HTTP/1.1", 400, "TSGI_ERR_BAD_METHOD"],
    ["GE(T) / HTTP/1.1", 400, "TSGI_ERR_BAD_METHOD"],
    ['GE"T / HTTP/1.1', 400, "TSGI_ERR_BAD_METHOD"],
    ["G\x80T / HTTP/1.1", 400, "TSGI_ERR_BAD_METHOD"],
    ["GET", 400, "TSGI_ERR_BAD_REQUEST_LINE"],
    ["GET /", 400, "TSGI_ERR_BAD_REQUEST_LINE"],
    ["GET / ", 400, "TSGI_ERR_BAD_VERSION"],
    ["/ HTTP/1.1", 400, "TSGI_ERR_BAD_METHOD"],
  ];
  for (const [line, status, code] of badLines) {
    test(`request line ${show(line)} → ${status} ${code}`, () => {
      rejects(`${line}\r\nHost: a\r\n\r\n`, status, code);
    });
  }

  for (const target of ["/a\x00b", "/a\x01b", "/a\x1fb", "/a\x7fb", "/\x80", "/caf\xe9", "/\xff"]) {
    test(`target byte in ${show(target)} → 400 TSGI_ERR_BAD_TARGET`, () => {
      rejects(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`, 400, "TSGI_ERR_BAD_TARGET");
    });
  }

  test("every visible ASCII character is allowed in a target, kept verbatim", () => {
    let target = "/";
    for (let c = 0x21; c < 0x7f; c++) target += String.fromCharCode(c);
    assert.equal(head(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`).target, target);
  });
});

describe("request-target forms", () => {
  const accepted: [string, string][] = [
    ["GET", "/"],
    ["GET", "/path/to?q=1&r=%20"],
    ["DELETE", "/x"],
    ["GET", "http://example.com/x?y=1"],
    ["GET", "http://example.com"],
    ["GET", "https://example.com:8443/"],
    ["GET", "http://[::1]:8080/x"],
    ["GET", "http://[2001:db8::1]/"],
    ["GET", "http://[::ffff:192.0.2.1]/"],
    ["GET", "http://[v1.fe]/"],
    ["GET", "http://user:pw@example.com/"],
    ["GET", "http://user@[::1]:80/"],
    ["GET", "http://example.com?q"],
    ["POST", "http://127.0.0.1:3000/api"],
    ["OPTIONS", "*"],
    ["OPTIONS", "/"],
    ["OPTIONS", "http://example.com"],
    ["CONNECT", "example.com:443"],
    ["CONNECT", "127.0.0.1:8080"],
    ["CONNECT", "[::1]:443"],
    ["CONNECT", "[2001:db8::1]:80"],
  ];
  for (const [method, target] of accepted) {
    test(`${method} ${target} is accepted`, () => {
      const h = head(`${method} ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
      assert.equal(h.method, method);
      assert.equal(h.target, target);
    });
  }

  const refused: [string, string][] = [
    // origin-form must start with "/"; a bare path is none of the four forms
    ["GET", "path"],
    ["GET", "?q"],
    // asterisk-form only for OPTIONS
    ["GET", "*"],
    ["POST", "*"],
    ["OPTIONS", "*/x"],
    ["OPTIONS", "**"],
    // authority-form only for CONNECT
    ["GET", "127.0.0.1:80"],
    ["GET", "[::1]:80"],
    ["OPTIONS", "10.0.0.1:443"],
    // CONNECT takes authority-form only
    ["CONNECT", "/"],
    ["CONNECT", "*"],
    ["CONNECT", "example.com"],
    ["CONNECT", "example.com:"],
    ["CONNECT", ":443"],
    ["CONNECT", "example.com:https"],
    ["CONNECT", "http://example.com/"],
    ["CONNECT", "user@example.com:443"],
    ["CONNECT", "[::1:443"],
    ["CONNECT", "[zz]:443"],
    ["CONNECT", "exa^mple.com:443"],
    // absolute-form with an invalid authority
    ["GET", "http://[::1/x"],
    ["GET", "http://[::g]/"],
    ["GET", "http://[::1]x/"],
    ["GET", "http://[::1]:8o/"],
    ["GET", "http://example.com:port/"],
    ["GET", "http://exa^mple.com/"],
    ["GET", "http://exa{mple.com/"],
    ["GET", "http://a:b:c/"],
  ];
  for (const [method, target] of refused) {
    test(`${method} ${target} → 400 TSGI_ERR_BAD_TARGET`, () => {
      rejects(`${method} ${target} HTTP/1.1\r\nHost: a\r\n\r\n`, 400, "TSGI_ERR_BAD_TARGET");
    });
  }

  test("absolute-form http URI with an empty host → 400 (RFC 9110 §4.2.1: recipient MUST reject)", () => {
    rejects("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "TSGI_ERR_BAD_TARGET");
    rejects("GET http://:80/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "TSGI_ERR_BAD_TARGET");
  });
});

describe("HTTP version", () => {
  test("HTTP/1.1 → 11, HTTP/1.0 → 10", () => {
    assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\n\r\n").version, 11);
    assert.equal(head("GET / HTTP/1.0\r\n\r\n").version, 10);
  });

  for (const version of ["HTTP/2.0", "HTTP/3.0", "HTTP/9.9"]) {
    test(`${version} → 505 TSGI_ERR_UNSUPPORTED_VERSION`, () => {
      rejects(`GET / ${version}\r\nHost: a\r\n\r\n`, 505, "TSGI_ERR_UNSUPPORTED_VERSION");
    });
  }

  test("HTTP/0.9-style request line (no version) → 400 TSGI_ERR_BAD_REQUEST_LINE", () => {
    rejects("GET /\r\n\r\n", 400, "TSGI_ERR_BAD_REQUEST_LINE");
    rejects("GET /index.html\r\n", 400, "TSGI_ERR_BAD_REQUEST_LINE");
  });

  for (const version of [
    "http/1.1",
    "Http/1.1",
    "HTTP/1.10",
    "HTTP/11",
    "HTTP/1",
    "HTTP/1.",
    "HTTP/a.1",
    "HTTP/1.x",
    "HTTP-1.1",
    "HTTP/1,1",
    "HTTPS/1.1",
    "HTTP/ 1.1",
    "HTTP/1.1x",
    "HTTP/1.1\x00",
  ]) {
    test(`malformed version ${show(version)} → 400 TSGI_ERR_BAD_VERSION`, () => {
      rejects(`GET / ${version}\r\nHost: a\r\n\r\n`, 400, "TSGI_ERR_BAD_VERSION");
    });
  }
});

describe("line endings", () => {
  const bareLF: [string, string][] = [
    ["after the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n"],
    ["after a field line", "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n"],
    ["as the empty line ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n"],
    ["as a leading empty line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["everywhere", "GET / HTTP/1.1\nHost: a\n\n"],
  ];
  for (const [where, input] of bareLF) {
    test(`bare LF ${where} → 400 TSGI_ERR_BAD_LINE_ENDING`, () => {
      rejects(input, 400, "TSGI_ERR_BAD_LINE_ENDING");
    });
  }

  const bareCR: [string, string, ProtocolErrorCode][] = [
    ["after the request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", "TSGI_ERR_BAD_VERSION"],
    ["doubled before LF on the request line", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", "TSGI_ERR_BAD_VERSION"],
    ["inside the target", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", "TSGI_ERR_BAD_TARGET"],
    ["inside a field value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", "TSGI_ERR_BAD_HEADER_VALUE"],
    ["ending a field value", "GET / HTTP/1.1\r\nHost: a\r\nX: ab\r\r\n\r\n", "TSGI_ERR_BAD_HEADER_VALUE"],
    ["between field lines", "GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", "TSGI_ERR_BAD_HEADER_VALUE"],
    ["as the empty line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", "TSGI_ERR_BAD_HEADER_NAME"],
    ["inside a field name", "GET / HTTP/1.1\r\nHost: a\r\nX\rY: 1\r\n\r\n", "TSGI_ERR_BAD_HEADER_NAME"],
  ];
  for (const [where, input, code] of bareCR) {
    test(`bare CR ${where} → 400 ${code}`, () => {
      rejects(input, 400, code);
    });
  }

  test("up to 4 leading empty lines are skipped", () => {
    const h = head("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal(h.target, "/");
  });

  test("a 5th leading empty line → 400 TSGI_ERR_BAD_REQUEST_LINE", () => {
    rejects("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "TSGI_ERR_BAD_REQUEST_LINE");
  });
});

// ---- header fields ------------------------------------------------------------

describe("field lines", () => {
  test("names keep their case, values are trimmed of SP/HTAB, order is kept", () => {
    const h = head(
      "GET / HTTP/1.1\r\nhOsT: a\r\nX-A:1\r\nX-B:   two  words \t \r\nX-C:\t\ttab\tinside\t\r\nX-Empty:\r\nX-Blank: \t \r\nX-A: again\r\n\r\n",
    );
    assert.deepEqual(h.headers, [
      "hOsT",
      "a",
      "X-A",
      "1",
      "X-B",
      "two  words",
      "X-C",
      "tab\tinside",
      "X-Empty",
      "",
      "X-Blank",
      "",
      "X-A",
      "again",
    ]);
    assert.equal(h.host, "a");
  });

  test("obs-text (0x80-0xFF) is allowed in values and read as latin-1", () => {
    const h = head("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9 \x80\xff\r\n\r\n");
    assert.equal(h.headers[3], "caf\xe9 \x80\xff");
    assert.deepEqual([...Buffer.from(h.headers[3]!, "latin1")], [0x63, 0x61, 0x66, 0xe9, 0x20, 0x80, 0xff]);
  });

  test("every tchar is allowed in a field name", () => {
    const name = "!#$%&'*+-.^_`|~09AZaz";
    assert.equal(head(`GET / HTTP/1.1\r\nHost: a\r\n${name}: v\r\n\r\n`).headers[2], name);
  });

  const folds: [string, string][] = [
    ["SP continuation", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"],
    ["HTAB continuation", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n"],
    ["whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"],
    ["whitespace-only line", "GET / HTTP/1.1\r\nHost: a\r\n \r\n\r\n"],
  ];
  for (const [what, input] of folds) {
    test(`obs-fold (${what}) → 400 TSGI_ERR_OBS_FOLD`, () => {
      rejects(input, 400, "TSGI_ERR_OBS_FOLD");
    });
  }

  const badNames: [string, string][] = [
    ["SP before colon", "Host : a"],
    ["HTAB before colon", "Host\t: a"],
    ["space inside", "X Y: 1"],
    ["parenthesis", "X(Y): 1"],
    ["slash", "X/Y: 1"],
    ["at sign", "X@Y: 1"],
    ["quote", 'X"Y: 1'],
    ["NUL", "X\x00Y: 1"],
    ["DEL", "X\x7fY: 1"],
    ["obs-text", "\xdcber: 1"],
    ["empty name", ": a"],
    ["no colon", "X-No-Colon"],
    ["no colon with value", "X-No-Colon value"],
  ];
  for (const [what, line] of badNames) {
    test(`field name with ${what} → 400 TSGI_ERR_BAD_HEADER_NAME`, () => {
      rejects(`GET / HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`, 400, "TSGI_ERR_BAD_HEADER_NAME");
    });
  }

  for (const [what, value] of [
    ["NUL", "a\x00b"],
    ["NUL at the end", "ab\x00"],
    ["NUL alone", "\x00"],
    ["SOH", "a\x01b"],
    ["VT", "a\x0bb"],
    ["FF", "a\x0cb"],
    ["ESC", "a\x1bb"],
    ["US", "a\x1fb"],
    ["DEL", "a\x7fb"],
  ]) {
    test(`field value with ${what} → 400 TSGI_ERR_BAD_HEADER_VALUE`, () => {
      rejects(`GET / HTTP/1.1\r\nHost: a\r\nX: ${value}\r\n\r\n`, 400, "TSGI_ERR_BAD_HEADER_VALUE");
    });
  }

  test("two Content-Type fields → 400 TSGI_ERR_BAD_HEADER_VALUE", () => {
    rejects(
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\ncontent-type: text/html\r\n\r\n",
      400,
      "TSGI_ERR_BAD_HEADER_VALUE",
    );
  });

  test("Upgrade is exposed (lower-cased) only when Connection lists upgrade", () => {
    assert.equal(
      head("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n").upgrade,
      "websocket",
    );
    assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").upgrade, "");
  });
});

describe("Host", () => {
  for (const value of [
    "example.com",
    "example.com:8080",
    "127.0.0.1:80",
    "[::1]:8080",
    "xn--bcher-kva.ch",
    "",
  ]) {
    test(`Host ${show(value)} is accepted and exposed`, () => {
      assert.equal(head(`GET / HTTP/1.1\r\nHost: ${value}\r\n\r\n`).host, value);
    });
  }

  test("HTTP/1.1 without Host → 400 TSGI_ERR_BAD_HOST", () => {
    rejects("GET / HTTP/1.1\r\n\r\n", 400, "TSGI_ERR_BAD_HOST");
    rejects("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", 400, "TSGI_ERR_BAD_HOST");
  });

  test("HTTP/1.0 may omit Host (host is then empty)", () => {
    const h = head("GET / HTTP/1.0\r\n\r\n");
    assert.equal(h.host, "");
    assert.deepEqual(h.headers, []);
  });

  for (const [what, input] of [
    ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"],
    ["two equal Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"],
    ["two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"],
  ]) {
    test(`${what} → 400 TSGI_ERR_BAD_HOST`, () => {
      rejects(input, 400, "TSGI_ERR_BAD_HOST");
    });
  }

  for (const value of [
    "a b",
    "a@b",
    "user@a",
    "a/b",
    "a?b",
    "a#b",
    "a\tb",
    "caf\xe9",
    'a"b',
    "a<b",
    "a\\b",
  ]) {
    test(`Host ${show(value)} → 400 TSGI_ERR_BAD_HOST`, () => {
      rejects(`GET / HTTP/1.1\r\nHost: ${value}\r\n\r\n`, 400, "TSGI_ERR_BAD_HOST");
    });
  }
});

// ---- body framing -----------------------------------------------------------------

describe("Content-Length", () => {
  test("Content-Length: 5 frames a 5-byte body; the rest is the next request", () => {
    const p = new RequestParser();
    p.receiveData(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET"));
    const events = drain(p);
    assert.equal(events.length, 3);
    assert.ok(events[0]!.type === "request" && events[0]!.framing === "length");
    assert.equal(events[0]!.contentLength, 5);
    assert.deepEqual(events.slice(1), [
      { type: "data", data: "hello" },
      { type: "end", trailers: [] },
    ]);
    assert.equal(p.bufferedBytes, 3);
  });

  test("a body arriving in pieces is returned piece by piece", () => {
    const p = new RequestParser();
    p.receiveData(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01"));
    assert.equal(drain(p).length, 2);
    p.receiveData(bytes("234"));
    assert.deepEqual(drain(p), [{ type: "data", data: "234" }]);
    p.receiveData(bytes("56789"));
    assert.deepEqual(drain(p), [
      { type: "data", data: "56789" },
      { type: "end", trailers: [] },
    ]);
  });

  test("Content-Length: 0 means no body", () => {
    const events = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    assert.ok(events[0]!.type === "request" && events[0]!.framing === "none");
    assert.deepEqual(events.slice(1), [{ type: "end", trailers: [] }]);
  });

  test("leading zeros are allowed: 007 → 7", () => {
    const h = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n");
    assert.equal(h.contentLength, 7);
    assert.deepEqual(
      body("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n1234567").body,
      "1234567",
    );
  });

  test("surrounding OWS is trimmed: ' 3 ' → 3", () => {
    assert.equal(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t3 \r\n\r\n").contentLength, 3);
  });

  test("15 digits are accepted when the limit allows", () => {
    const h = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000000000000012\r\n\r\n");
    assert.equal(h.contentLength, 12);
  });

  for (const [what, fields] of [
    ["two different", "Content-Length: 5\r\nContent-Length: 6\r\n"],
    ["two equal", "Content-Length: 5\r\nContent-Length: 5\r\n"],
    ["two equal, different case", "Content-Length: 5\r\ncontent-length: 5\r\n"],
  ]) {
    test(`${what} Content-Length fields → 400 TSGI_ERR_BAD_CONTENT_LENGTH`, () => {
      rejects(`POST / HTTP/1.1\r\nHost: a\r\n${fields}\r\nhello`, 400, "TSGI_ERR_BAD_CONTENT_LENGTH");
    });
  }

  for (const value of [
    "+5",
    "-5",
    "-0",
    "5 5",
    "5\t5",
    "0x5",
    "5a",
    "a",
    "5,5",
    "5, 5",
    "5.0",
    "1e3",
    "",
    "1234567890123456",
    "00001234567890123456",
  ]) {
    test(`Content-Length ${show(value)} → 400 TSGI_ERR_BAD_CONTENT_LENGTH`, () => {
      rejects(
        `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${value}\r\n\r\n`,
        400,
        "TSGI_ERR_BAD_CONTENT_LENGTH",
      );
    });
  }

  test("Content-Length over maxBodySize → 413 TSGI_ERR_BODY_TOO_LARGE (before any body byte)", () => {
    const limits = { maxBodySize: 10 };
    assert.equal(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n", limits).contentLength, 10);
    rejects("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413, "TSGI_ERR_BODY_TOO_LARGE", {
      limits,
    });
  });

  test("default maxBodySize is 10 MiB: 10485760 ok, 10485761 → 413", () => {
    assert.equal(
      head("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 10485760\r\n\r\n").contentLength,
      10485760,
    );
    rejects("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 10485761\r\n\r\n", 413, "TSGI_ERR_BODY_TOO_LARGE");
    rejects(
      "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999\r\n\r\n",
      413,
      "TSGI_ERR_BODY_TOO_LARGE",
    );
  });
});

describe("Transfer-Encoding", () => {
  for (const value of ["chunked", "Chunked", "CHUNKED", " chunked ", ", chunked", "chunked,", ",,chunked"]) {
    test(`Transfer-Encoding ${show(value)} → chunked framing`, () => {
      const h = head(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${value}\r\n\r\n0\r\n\r\n`);
      assert.equal(h.framing, "chunked");
      assert.equal(h.contentLength, -1);
    });
  }

  const refused: [string, string, number, ProtocolErrorCode][] = [
    ["gzip, chunked", "Transfer-Encoding: gzip, chunked\r\n", 501, "TSGI_ERR_UNSUPPORTED_TRANSFER_CODING"],
    [
      "deflate,chunked",
      "Transfer-Encoding: deflate,chunked\r\n",
      501,
      "TSGI_ERR_UNSUPPORTED_TRANSFER_CODING",
    ],
    ["chunked, gzip", "Transfer-Encoding: chunked, gzip\r\n", 400, "TSGI_ERR_BAD_TRANSFER_ENCODING"],
    ["gzip", "Transfer-Encoding: gzip\r\n", 400, "TSGI_ERR_BAD_TRANSFER_ENCODING"],
    ["identity", "Transfer-Encoding: identity\r\n", 400, "TSGI_ERR_BAD_TRANSFER_ENCODING"],
    ["empty", "Transfer-Encoding: \r\n", 400, "TSGI_ERR_BAD_TRANSFER_ENCODING"],
    ["only commas", "Transfer-Encoding: , ,\r\n", 400, "TSGI_ERR_BAD_TRANSFER_ENCODING"],
    ["chunked, chunked", "Transfer-Encoding: chunked, chunked\r\n", 400, "TSGI_ERR_BAD_TRANSFER_ENCODING"],
    [
      "gzip, chunked, chunked",
      "Transfer-Encoding: gzip, chunked, chunked\r\n",
      400,
      "TSGI_ERR_BAD_TRANSFER_ENCODING",
    ],
    [
      "chunked twice over two lines",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
      400,
      "TSGI_ERR_BAD_TRANSFER_ENCODING",
    ],
    [
      "gzip then chunked over two lines",
      "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
      501,
      "TSGI_ERR_UNSUPPORTED_TRANSFER_CODING",
    ],
    [
      "chunked then gzip over two lines",
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
      400,
      "TSGI_ERR_BAD_TRANSFER_ENCODING",
    ],
    ["a non-token coding", "Transfer-Encoding: chun ked\r\n", 400, "TSGI_ERR_BAD_TRANSFER_ENCODING"],
    // chunked defines no parameters; a proxy may read "chunked;..." as another coding.
    ["chunked;", "Transfer-Encoding: chunked;\r\n", 400, "TSGI_ERR_BAD_TRANSFER_ENCODING"],
    ["chunked;a=b", "Transfer-Encoding: chunked; a=b\r\n", 400, "TSGI_ERR_BAD_TRANSFER_ENCODING"],
    [
      "a parameter without a value",
      "Transfer-Encoding: gzip;x, chunked\r\n",
      400,
      "TSGI_ERR_BAD_TRANSFER_ENCODING",
    ],
    [
      "a parameter without a coding",
      "Transfer-Encoding: ;a=b, chunked\r\n",
      400,
      "TSGI_ERR_BAD_TRANSFER_ENCODING",
    ],
    [
      "well-formed parameters on another coding",
      'Transfer-Encoding: gzip ; q=1;x="a\\"b" , chunked\r\n',
      501,
      "TSGI_ERR_UNSUPPORTED_TRANSFER_CODING",
    ],
    [
      "with Content-Length after",
      "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
      400,
      "TSGI_ERR_CONFLICTING_FRAMING",
    ],
    [
      "with Content-Length before",
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
      400,
      "TSGI_ERR_CONFLICTING_FRAMING",
    ],
    [
      "with Content-Length: 0",
      "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
      400,
      "TSGI_ERR_CONFLICTING_FRAMING",
    ],
  ];
  for (const [what, fields, status, code] of refused) {
    test(`Transfer-Encoding ${what} → ${status} ${code}`, () => {
      rejects(`POST / HTTP/1.1\r\nHost: a\r\n${fields}\r\n0\r\n\r\n`, status, code);
    });
  }

  test("Transfer-Encoding in an HTTP/1.0 request → 400 TSGI_ERR_BAD_TRANSFER_ENCODING", () => {
    rejects(
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
      "TSGI_ERR_BAD_TRANSFER_ENCODING",
    );
  });

  test("Transfer-Encoding split over two lines with an empty first one → chunked", () => {
    const h = head(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert.equal(h.framing, "chunked");
  });
});

describe("chunked body", () => {
  const chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

  test("chunks are de-chunked, hex sizes in either case", () => {
    assert.deepEqual(
      body(`${chunked}5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n`),
      {
        body: "hello 0123456789abcdefghijk",
        trailers: [],
      },
    );
  });

  test("each chunk is one data event; the last chunk yields end", () => {
    assert.deepEqual(parse(`${chunked}3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n`).slice(1), [
      { type: "data", data: "abc" },
      { type: "data", data: "de" },
      { type: "end", trailers: [] },
    ]);
  });

  test("chunk data may contain CR, LF and any byte", () => {
    assert.equal(body(`${chunked}6\r\n\r\n\x00\xff\r\n\r\n0\r\n\r\n`).body, "\r\n\x00\xff\r\n");
  });

  test("leading zeros in chunk sizes (up to 13 digits)", () => {
    assert.equal(body(`${chunked}0005\r\nhello\r\n0000000000000\r\n\r\n`).body, "hello");
  });

  for (const line of [
    "5;name",
    "5;name=value",
    "5;a=1;b=2;c",
    '5;name="quoted value"',
    '5;q="semi;colon, comma"',
    '5;q="esc\\"aped\\\\"',
    '5;q=""',
    '5;q="caf\xe9"',
    "5 ;a",
    "5\t;a",
    "5 \t ;a",
    "5; a",
    "5;a = b",
    "5;a\t=\tb",
    "5;a ;b",
    "5;a=b ;c",
    "5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
  ]) {
    test(`chunk extension ${show(line)} is skipped`, () => {
      assert.deepEqual(body(`${chunked}${line}\r\nhello\r\n0;last=1\r\n\r\n`), {
        body: "hello",
        trailers: [],
      });
    });
  }

  for (const line of [
    "",
    "x",
    "g",
    "-5",
    "+5",
    " 5",
    "\t5",
    "5 ",
    "5\t",
    "0x5",
    "5,",
    "5;",
    "5; ",
    "5;=v",
    "5;a=",
    "5;a= ",
    "5;a=b c",
    "5;a b",
    '5;a="unterminated',
    '5;a="ctl\x01"',
    '5;a="x"y',
    "5;a=@",
    "5;a;",
    "5;a=b;",
    "5 5",
  ]) {
    test(`chunk-size line ${show(line)} → 400 TSGI_ERR_BAD_CHUNK`, () => {
      rejects(`${chunked}${line}\r\nhello\r\n0\r\n\r\n`, 400, "TSGI_ERR_BAD_CHUNK");
    });
  }

  test("14 hex digits (possible overflow) → 400 TSGI_ERR_BAD_CHUNK", () => {
    rejects(`${chunked}10000000000000\r\n`, 400, "TSGI_ERR_BAD_CHUNK");
    rejects(`${chunked}ffffffffffffffffffff\r\n`, 400, "TSGI_ERR_BAD_CHUNK");
  });

  test("13 hex digits is a size: over maxBodySize → 413", () => {
    rejects(`${chunked}fffffffffffff\r\n`, 413, "TSGI_ERR_BODY_TOO_LARGE");
  });

  test("chunk-size line ended by a bare LF → 400 TSGI_ERR_BAD_CHUNK", () => {
    rejects(`${chunked}5\nhello\r\n0\r\n\r\n`, 400, "TSGI_ERR_BAD_CHUNK");
    rejects(`${chunked}\nhello\r\n0\r\n\r\n`, 400, "TSGI_ERR_BAD_CHUNK");
  });

  for (const [what, rest] of [
    ["a byte that is not CR", "5\r\nhelloX\r\n0\r\n\r\n"],
    ["LF only", "5\r\nhello\n0\r\n\r\n"],
    ["CR then not LF", "5\r\nhello\rX0\r\n\r\n"],
    ["CR CR", "5\r\nhello\r\r\n0\r\n\r\n"],
    ["the next size line", "5\r\nhello0\r\n\r\n"],
  ]) {
    test(`chunk data followed by ${what} → 400 TSGI_ERR_BAD_CHUNK`, () => {
      rejects(`${chunked}${rest}`, 400, "TSGI_ERR_BAD_CHUNK");
    });
  }

  test("a wrong byte after chunk data is refused as soon as it arrives", () => {
    const p = new RequestParser();
    p.receiveData(bytes(`${chunked}5\r\nhello`));
    assert.equal(drain(p).length, 2);
    p.receiveData(bytes("X"));
    const err = remoteError(() => drain(p));
    assert.deepEqual([err.status, err.code], [400, "TSGI_ERR_BAD_CHUNK"]);
  });

  test("chunk-size line over maxChunkLineSize → 400 TSGI_ERR_BAD_CHUNK, with or without its LF", () => {
    const limits = { maxChunkLineSize: 8 };
    assert.equal(body(`${chunked}5;a=b\r\nhello\r\n0\r\n\r\n`, limits).body, "hello");
    rejects(`${chunked}5;a=bcdefgh\r\nhello\r\n0\r\n\r\n`, 400, "TSGI_ERR_BAD_CHUNK", { limits });
    rejects(`${chunked}5;a=bcdefghij`, 400, "TSGI_ERR_BAD_CHUNK", { limits });
  });

  test("trailers are parsed, trimmed and exposed on end", () => {
    assert.deepEqual(
      body(`${chunked}5\r\nhello\r\n0\r\nX-Checksum: abc123\r\nServer-Timing:  db;dur=53 \t\r\n\r\n`),
      { body: "hello", trailers: ["X-Checksum", "abc123", "Server-Timing", "db;dur=53"] },
    );
  });

  test("trailers after a last chunk with extensions", () => {
    assert.deepEqual(body(`${chunked}0;x="y"\r\nExpires: never\r\n\r\n`), {
      body: "",
      trailers: ["Expires", "never"],
    });
  });

  for (const name of [
    "Content-Length",
    "content-length",
    "Transfer-Encoding",
    "Host",
    "Connection",
    "Keep-Alive",
    "Upgrade",
    "TE",
    "Trailer",
  ]) {
    test(`trailer field ${name} is forbidden → 400 TSGI_ERR_BAD_HEADER_NAME`, () => {
      rejects(`${chunked}5\r\nhello\r\n0\r\n${name}: 5\r\n\r\n`, 400, "TSGI_ERR_BAD_HEADER_NAME");
    });
  }

  for (const [what, trailer, code] of [
    ["obs-fold", "X: a\r\n b\r\n", "TSGI_ERR_OBS_FOLD"],
    ["a bare LF", "X: a\n", "TSGI_ERR_BAD_LINE_ENDING"],
    ["a bare LF as the empty line", "X: a\r\n\n", "TSGI_ERR_BAD_LINE_ENDING"],
    ["space before colon", "X : a\r\n", "TSGI_ERR_BAD_HEADER_NAME"],
    ["a NUL in the value", "X: a\x00\r\n", "TSGI_ERR_BAD_HEADER_VALUE"],
  ] as const) {
    test(`trailer with ${what} → 400 ${code}`, () => {
      rejects(`${chunked}0\r\n${trailer}\r\n`, 400, code);
    });
  }

  test("too many trailer fields → 431 TSGI_ERR_TOO_MANY_HEADERS", () => {
    const limits = { maxHeaderCount: 2 };
    assert.deepEqual(body(`${chunked}0\r\nA: 1\r\nB: 2\r\n\r\n`, limits).trailers, ["A", "1", "B", "2"]);
    rejects(`${chunked}0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n`, 431, "TSGI_ERR_TOO_MANY_HEADERS", { limits });
  });

  test("trailer section over maxHeaderSize → 431 TSGI_ERR_HEADERS_TOO_LARGE", () => {
    // The head's field lines "Host: a\r\nTransfer-Encoding: chunked\r\n" are 37 bytes; the
    // trailer section is measured on its own: "X: " + 32 bytes + CRLF is 37 too.
    const limits = { maxHeaderSize: 37 };
    const v32 = "v".repeat(32);
    assert.deepEqual(body(`${chunked}0\r\nX: ${v32}\r\n\r\n`, limits).trailers, ["X", v32]);
    rejects(`${chunked}0\r\nX: ${v32}w\r\n\r\n`, 431, "TSGI_ERR_HEADERS_TOO_LARGE", { limits });
    rejects(`${chunked}0\r\nX: ${v32}wxyz`, 431, "TSGI_ERR_HEADERS_TOO_LARGE", { limits });
  });

  test("chunked body crossing maxBodySize midway → 413 after the data before it", () => {
    const p = new RequestParser({ maxBodySize: 10 });
    p.receiveData(bytes(`${chunked}5\r\nhello\r\n5\r\nworld\r\n1\r\n!\r\n0\r\n\r\n`));
    const events: Ev[] = [];
    const err = remoteError(() => {
      for (;;) {
        const ev = p.nextEvent();
        if (typeof ev === "symbol") break;
        events.push(
          ev.type === "data" ? { type: "data", data: Buffer.from(ev.data).toString("latin1") } : ev,
        );
      }
    });
    assert.deepEqual([err.status, err.code], [413, "TSGI_ERR_BODY_TOO_LARGE"]);
    assert.deepEqual(events.slice(1), [
      { type: "data", data: "hello" },
      { type: "data", data: "world" },
    ]);
  });

  test("chunked body of exactly maxBodySize is accepted", () => {
    assert.equal(
      body(`${chunked}5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n`, { maxBodySize: 10 }).body,
      "helloworld",
    );
  });
});

// ---- limits -------------------------------------------------------------------

describe("limits", () => {
  test("default maxRequestLineSize is 8 KiB: 8192 bytes ok, 8193 → 414", () => {
    const target = (n: number) => `/${"a".repeat(n - "GET  HTTP/1.1".length - 1)}`;
    const ok = `GET ${target(8192)} HTTP/1.1`;
    assert.equal(ok.length, 8192);
    assert.equal(head(`${ok}\r\nHost: a\r\n\r\n`).target.length, 8192 - 13);
    const tooLong = `GET ${target(8193)} HTTP/1.1`;
    assert.equal(tooLong.length, 8193);
    rejects(`${tooLong}\r\nHost: a\r\n\r\n`, 414, "TSGI_ERR_REQUEST_LINE_TOO_LONG");
  });

  test("a request line over 8 KiB → 414 before its LF arrives", () => {
    const p = new RequestParser();
    p.receiveData(bytes("GET /"));
    assert.equal(p.nextEvent(), NEED_DATA);
    p.receiveData(bytes("a".repeat(9000)));
    const err = remoteError(() => p.nextEvent());
    assert.deepEqual([err.status, err.code], [414, "TSGI_ERR_REQUEST_LINE_TOO_LONG"]);
  });

  test("custom maxRequestLineSize: the line without CRLF is measured", () => {
    const limits = { maxRequestLineSize: 15 };
    assert.equal(head("GET /a HTTP/1.1\r\nHost: a\r\n\r\n", limits).target, "/a");
    rejects("GET /ab HTTP/1.1\r\nHost: a\r\n\r\n", 414, "TSGI_ERR_REQUEST_LINE_TOO_LONG", { limits });
    // Without its LF: 15 bytes plus a possible CR still wait for more, 17 bytes cannot fit.
    const p = new RequestParser(limits);
    p.receiveData(bytes("GET /a HTTP/1.1\r"));
    assert.equal(p.nextEvent(), NEED_DATA);
    rejects("GET /abc HTTP/1.1", 414, "TSGI_ERR_REQUEST_LINE_TOO_LONG", { limits });
  });

  test("leading empty lines do not count toward the request line", () => {
    const limits = { maxRequestLineSize: 15 };
    assert.equal(head("\r\n\r\nGET /a HTTP/1.1\r\nHost: a\r\n\r\n", limits).target, "/a");
  });

  test("header section over maxHeaderSize → 431 (field lines with CRLF are counted)", () => {
    // "Host: a\r\n" (9) + "X: 12345\r\n" (10) = 19 bytes.
    const input = "GET / HTTP/1.1\r\nHost: a\r\nX: 12345\r\n\r\n";
    assert.equal(head(input, { maxHeaderSize: 19 }).headers.length, 4);
    rejects(input, 431, "TSGI_ERR_HEADERS_TOO_LARGE", { limits: { maxHeaderSize: 18 } });
  });

  test("header section over maxHeaderSize → 431 before the field line's LF arrives", () => {
    const p = new RequestParser({ maxHeaderSize: 18 });
    p.receiveData(bytes("GET / HTTP/1.1\r\nHost: a\r\nX: 1234"));
    assert.equal(p.nextEvent(), NEED_DATA);
    p.receiveData(bytes("567890"));
    const err = remoteError(() => p.nextEvent());
    assert.deepEqual([err.status, err.code], [431, "TSGI_ERR_HEADERS_TOO_LARGE"]);
  });

  test("default maxHeaderSize is 16 KiB", () => {
    const value = "v".repeat(16 * 1024 - "Host: a\r\nX: \r\n".length);
    assert.equal(head(`GET / HTTP/1.1\r\nHost: a\r\nX: ${value}\r\n\r\n`).headers[3], value);
    rejects(`GET / HTTP/1.1\r\nHost: a\r\nX: ${value}v\r\n\r\n`, 431, "TSGI_ERR_HEADERS_TOO_LARGE");
  });

  test("more than maxHeaderCount field lines → 431 TSGI_ERR_TOO_MANY_HEADERS", () => {
    const limits = { maxHeaderCount: 3 };
    assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits).headers.length, 6);
    rejects("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431, "TSGI_ERR_TOO_MANY_HEADERS", {
      limits,
    });
  });

  test("default maxHeaderCount is 100", () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: ${i}\r\n`).join("");
    assert.equal(head(`GET / HTTP/1.1\r\nHost: a\r\n${fields(99)}\r\n`).headers.length, 200);
    rejects(`GET / HTTP/1.1\r\nHost: a\r\n${fields(100)}\r\n`, 431, "TSGI_ERR_TOO_MANY_HEADERS");
  });
});

// ---- connection semantics -------------------------------------------------------

describe("keep-alive and Expect", () => {
  const keepAlive: [string, string, boolean][] = [
    ["HTTP/1.1", "", true],
    ["HTTP/1.1", "Connection: close\r\n", false],
    ["HTTP/1.1", "Connection: Close\r\n", false],
    ["HTTP/1.1", "Connection: keep-alive\r\n", true],
    ["HTTP/1.1", "Connection: keep-alive, close\r\n", false],
    ["HTTP/1.1", "Connection: foo\r\nConnection: close\r\n", false],
    ["HTTP/1.1", "Connection: closed\r\n", true],
    ["HTTP/1.0", "", false],
    ["HTTP/1.0", "Connection: keep-alive\r\n", true],
    ["HTTP/1.0", "Connection: Keep-Alive\r\n", true],
    ["HTTP/1.0", "Connection: foo, keep-alive\r\n", true],
    ["HTTP/1.0", "Connection: keep-alive, close\r\n", false],
    ["HTTP/1.0", "Connection: close\r\n", false],
    ["HTTP/1.0", "Keep-Alive: timeout=5\r\n", false],
  ];
  for (const [version, fields, expected] of keepAlive) {
    test(`${version} ${show(fields)} → keepAlive ${expected}`, () => {
      assert.equal(head(`GET / ${version}\r\nHost: a\r\n${fields}\r\n`).keepAlive, expected);
    });
  }

  const expect: [string, string, boolean][] = [
    ["HTTP/1.1", "Content-Length: 5\r\nExpect: 100-continue\r\n", true],
    ["HTTP/1.1", "Expect: 100-Continue\r\nContent-Length: 5\r\n", true],
    ["HTTP/1.1", "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n", true],
    ["HTTP/1.1", "Content-Length: 5\r\n", false],
    ["HTTP/1.1", "Expect: 100-continue\r\n", false],
    ["HTTP/1.1", "Content-Length: 0\r\nExpect: 100-continue\r\n", false],
    ["HTTP/1.0", "Content-Length: 5\r\nExpect: 100-continue\r\n", false],
    ["HTTP/1.1", "Content-Length: 5\r\nExpect: \r\n", false],
  ];
  for (const [version, fields, expected] of expect) {
    test(`${version} ${show(fields)} → expectContinue ${expected}`, () => {
      assert.equal(head(`POST / ${version}\r\nHost: a\r\n${fields}\r\n`).expectContinue, expected);
    });
  }

  for (const value of ["foo", "100-continue, foo", "200-ok", "100-continue=1"]) {
    test(`Expect: ${value} → 417 TSGI_ERR_EXPECTATION_FAILED`, () => {
      rejects(
        `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: ${value}\r\n\r\nhello`,
        417,
        "TSGI_ERR_EXPECTATION_FAILED",
      );
    });
  }
});

// ---- request cycles ------------------------------------------------------------------

describe("pipelining", () => {
  test("two requests in one buffer: the second only after startNextCycle()", () => {
    const p = new RequestParser();
    p.receiveData(
      bytes("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: b\r\n\r\n"),
    );
    const first = drain(p);
    assert.deepEqual(
      first.map((e) => (e.type === "request" ? e.target : e.type === "data" ? e.data : e.type)),
      ["/a", "abc", "end"],
    );
    assert.equal(p.nextEvent(), PAUSED);
    assert.equal(p.nextEvent(), PAUSED);
    assert.equal(p.paused, true);
    assert.equal(p.bufferedBytes, "GET /b HTTP/1.1\r\nHost: b\r\n\r\n".length);
    p.startNextCycle();
    assert.equal(p.paused, false);
    const second = drain(p);
    assert.ok(second[0]!.type === "request");
    assert.equal(second[0]!.target, "/b");
    assert.equal(second[0]!.host, "b");
    assert.deepEqual(second.slice(1), [{ type: "end", trailers: [] }]);
    assert.equal(p.nextEvent(), PAUSED);
    p.startNextCycle();
    assert.equal(p.nextEvent(), NEED_DATA);
    assert.equal(p.idle, true);
  });

  test("trailers and headers do not leak into the next request", () => {
    const p = new RequestParser();
    p.receiveData(
      bytes(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      ),
    );
    assert.deepEqual(drain(p)[1], { type: "end", trailers: ["X-T", "1"] });
    p.startNextCycle();
    const [h, end] = drain(p);
    assert.ok(h!.type === "request");
    assert.deepEqual(h!.headers, ["Host", "a"]);
    assert.deepEqual(end, { type: "end", trailers: [] });
  });

  test("a CRLF after a body before the next request is skipped", () => {
    const p = new RequestParser();
    p.receiveData(
      bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"),
    );
    drain(p);
    p.startNextCycle();
    const [h] = drain(p);
    assert.ok(h!.type === "request" && h!.target === "/2");
  });

  test("startNextCycle() before the request is complete throws", () => {
    const p = new RequestParser();
    p.receiveData(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab"));
    drain(p);
    assert.throws(() => p.startNextCycle());
  });
});

describe("end of stream", () => {
  test("EOF when idle → closed", () => {
    const p = new RequestParser();
    assert.equal(p.idle, true);
    p.receiveEOF();
    assert.deepEqual(p.nextEvent(), { type: "closed" });
  });

  test("EOF after a complete request: PAUSED, then closed after startNextCycle()", () => {
    const p = new RequestParser();
    p.receiveData(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    p.receiveEOF();
    assert.equal(drain(p).length, 2);
    assert.equal(p.nextEvent(), PAUSED);
    p.startNextCycle();
    assert.deepEqual(p.nextEvent(), { type: "closed" });
  });

  test("EOF after leading empty lines → closed", () => {
    const p = new RequestParser();
    p.receiveData(bytes("\r\n\r\n"));
    p.receiveEOF();
    assert.deepEqual(p.nextEvent(), { type: "closed" });
  });

  const incomplete: [string, string][] = [
    ["mid request line", "GET / HT"],
    ["after the request line", "GET / HTTP/1.1\r\n"],
    ["mid field line", "GET / HTTP/1.1\r\nHost: a"],
    ["before the empty line", "GET / HTTP/1.1\r\nHost: a\r\n"],
    ["between CR and LF of the empty line", "GET / HTTP/1.1\r\nHost: a\r\n\r"],
    ["mid Content-Length body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel"],
    ["before a Content-Length body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"],
    ["before the first chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"],
    ["mid chunk-size line", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5"],
    ["mid chunk data", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"],
    ["after chunk data", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello"],
    [
      "after the CR ending chunk data",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r",
    ],
    ["after the last chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"],
    ["mid trailers", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n"],
  ];
  for (const [where, input] of incomplete) {
    test(`EOF ${where} → 400 TSGI_ERR_INCOMPLETE_MESSAGE`, () => {
      rejects(input, 400, "TSGI_ERR_INCOMPLETE_MESSAGE", { eof: true });
    });
  }

  test("EOF mid-body is reported after the data that did arrive", () => {
    const p = new RequestParser();
    p.receiveData(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel"));
    p.receiveEOF();
    const h = p.nextEvent();
    assert.ok(typeof h === "object" && h.type === "request");
    const data = p.nextEvent();
    assert.ok(typeof data === "object" && data.type === "data");
    assert.equal(Buffer.from(data.data).toString("latin1"), "hel");
    const err = remoteError(() => p.nextEvent());
    assert.deepEqual([err.status, err.code], [400, "TSGI_ERR_INCOMPLETE_MESSAGE"]);
  });

  test("EOF with a partial pipelined request → 400 after the complete one", () => {
    const p = new RequestParser();
    p.receiveData(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /"));
    p.receiveEOF();
    assert.equal(drain(p).length, 2);
    p.startNextCycle();
    const err = remoteError(() => p.nextEvent());
    assert.deepEqual([err.status, err.code], [400, "TSGI_ERR_INCOMPLETE_MESSAGE"]);
  });

  test("data after EOF is refused", () => {
    const p = new RequestParser();
    p.receiveEOF();
    assert.throws(
      () => p.receiveData(bytes("GET")),
      (err) => err instanceof RemoteProtocolError && err.code === "TSGI_ERR_INVALID_STATE",
    );
  });
});

// ---- split invariance ---------------------------------------------------------------

/**
 * Feeds `pieces` in order, draining after each (a complete request is followed
 * by startNextCycle()), then EOF. Data pieces of one message are joined; a
 * protocol error ends the list as an "error" event.
 */
function run(pieces: Uint8Array[], limits?: Partial<ParserLimits>): Ev[] {
  const p = new RequestParser(limits);
  const events: Ev[] = [];
  const pump = (): void => {
    for (;;) {
      const ev = p.nextEvent();
      if (ev === NEED_DATA) return;
      if (ev === PAUSED) {
        p.startNextCycle();
        continue;
      }
      const last = events[events.length - 1];
      if (ev.type === "data") {
        const text = Buffer.from(ev.data).toString("latin1");
        if (last?.type === "data") last.data += text;
        else events.push({ type: "data", data: text });
      } else {
        events.push(ev);
      }
      if (ev.type === "closed") return;
    }
  };
  try {
    for (const piece of pieces) {
      p.receiveData(piece);
      pump();
    }
    p.receiveEOF();
    pump();
  } catch (err) {
    if (!(err instanceof RemoteProtocolError)) throw err;
    events.push({ type: "error", status: err.status, code: err.code });
  }
  return events;
}

describe("split invariance", () => {
  const cases: [string, string, Partial<ParserLimits>?][] = [
    ["simple GET", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"],
    [
      "POST with Content-Length",
      "POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nx=1&y=2\r\nz",
    ],
    [
      "chunked with extensions and trailers",
      'PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;a=b\r\nWiki\r\n5 ; q="x;\\"y"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Sum: 1\r\nX-Two:  2 \r\n\r\n',
    ],
    [
      "three pipelined requests",
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbodyGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ],
    ["leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["HTTP/1.0 keep-alive", "GET /old HTTP/1.0\r\nConnection: keep-alive\r\nUser-Agent: x/1\r\n\r\n"],
    ["absolute-form with IPv6", "GET http://user@[::1]:8080/p?q HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"],
    [
      "OPTIONS * and CONNECT",
      "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nCONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
    ],
    [
      "obs-text, trimmed values, Expect",
      "POST / HTTP/1.1\r\nHost: a\r\nX-L: \t caf\xe9 \t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    ],
    ["bare LF in the head → error", "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n"],
    [
      "bad chunk terminator → error",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
    ],
    [
      "chunked body over the limit → error after data",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
      { maxBodySize: 5 },
    ],
    [
      "request line too long → error",
      "GET /0123456789012345678901234 HTTP/1.1\r\nHost: a\r\n\r\n",
      { maxRequestLineSize: 20 },
    ],
    [
      "header section too large → error",
      "GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789abcdef\r\n\r\n",
      { maxHeaderSize: 20 },
    ],
    ["truncated body → error at EOF", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nshort"],
  ];

  for (const [name, input, limits] of cases) {
    test(`${name}: every split point and byte-at-a-time give the same events`, () => {
      const all = bytes(input);
      const whole = run([all], limits);
      assert.ok(whole.length > 0);
      for (let k = 1; k < all.length; k++) {
        assert.deepEqual(run([all.subarray(0, k), all.subarray(k)], limits), whole, `split at ${k}`);
      }
      const single: Uint8Array[] = [];
      for (let k = 0; k < all.length; k++) single.push(new Uint8Array(all.subarray(k, k + 1)));
      assert.deepEqual(run(single, limits), whole, "byte at a time");
    });
  }

  test("the reference runs parse as expected", () => {
    assert.deepEqual(run([bytes(cases[2]![1])]).slice(1), [
      { type: "data", data: "Wikipedia in\r\n\r\nchunks." },
      { type: "end", trailers: ["X-Sum", "1", "X-Two", "2"] },
      { type: "closed" },
    ]);
    const pipelined = run([bytes(cases[3]![1])]);
    assert.deepEqual(
      pipelined.map((e) => (e.type === "request" ? `${e.method} ${e.target} ${e.keepAlive}` : e.type)),
      ["GET /1 true", "end", "POST /2 true", "data", "end", "GET /3 false", "end", "closed"],
    );
    assert.deepEqual(run([bytes(cases[11]![1])], cases[11]![2]).slice(1), [
      { type: "data", data: "abc" },
      { type: "error", status: 413, code: "TSGI_ERR_BODY_TOO_LARGE" },
    ]);
    assert.deepEqual(run([bytes(cases[14]![1])]).slice(1), [
      { type: "data", data: "short" },
      { type: "error", status: 400, code: "TSGI_ERR_INCOMPLETE_MESSAGE" },
    ]);
  });
});

// ---- issue 12: whitespace and request-target honesty ---------------------------------

/**
 * The events of `input` fed whole; asserts that every split in two and
 * byte-at-a-time feeding give the same events, so a refusal cannot depend on
 * how the bytes arrived.
 */
function atEverySplit(input: string, limits?: Partial<ParserLimits>): Ev[] {
  const all = bytes(input);
  const whole = run([all], limits);
  for (let k = 1; k < all.length; k++) {
    assert.deepEqual(run([all.subarray(0, k), all.subarray(k)], limits), whole, `split at ${k}`);
  }
  const single: Uint8Array[] = [];
  for (let k = 0; k < all.length; k++) single.push(new Uint8Array(all.subarray(k, k + 1)));
  assert.deepEqual(run(single, limits), whole, "byte at a time");
  return whole;
}

/** The refusal that ends `events` (as status and code), or null when nothing was refused. */
function refusal(events: Ev[]): { status: number; code: ProtocolErrorCode } | null {
  const last = events[events.length - 1];
  return last?.type === "error" ? { status: last.status, code: last.code } : null;
}

/**
 * Unicode whitespace that JavaScript's trim() and `\s` remove but HTTP does
 * not (RFC 9110 §5.6.3: OWS is SP / HTAB). As bytes read as latin-1: 0xA0 and
 * 0x85 stand for themselves, the others are their UTF-8 bytes.
 */
const UNICODE_SPACES: [string, string][] = [
  ["0xA0 (U+00A0 in latin-1)", "\xa0"],
  ["0x85 (U+0085 in latin-1)", "\x85"],
  ["U+00A0 as UTF-8", Buffer.from("\u00a0", "utf8").toString("latin1")],
  ["U+2000 as UTF-8", Buffer.from("\u2000", "utf8").toString("latin1")],
  ["U+200A as UTF-8", Buffer.from("\u200a", "utf8").toString("latin1")],
  ["U+3000 as UTF-8", Buffer.from("\u3000", "utf8").toString("latin1")],
  ["U+FEFF as UTF-8", Buffer.from("\ufeff", "utf8").toString("latin1")],
];

describe("issue 12: only SP and HTAB are whitespace (RFC 9110 §5.6.3)", () => {
  const chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %\r\n\r\n5\r\nhello\r\n0\r\n\r\n";

  test("Transfer-Encoding with SP/HTAB around chunked is chunked, at every split", () => {
    const events = atEverySplit(chunked.replace("%", " \t chunked\t "));
    assert.equal(events[0]?.type === "request" && events[0].framing, "chunked");
    assert.deepEqual(events.slice(1), [
      { type: "data", data: "hello" },
      { type: "end", trailers: [] },
      { type: "closed" },
    ]);
  });

  for (const [what, pad] of UNICODE_SPACES) {
    for (const [where, value] of [
      ["around", `${pad}chunked${pad}`],
      ["before", `${pad}chunked`],
      ["after", `chunked${pad}`],
      ["after gzip,", `gzip,${pad}chunked`],
    ]) {
      test(`Transfer-Encoding with ${what} ${where} chunked → 400, never chunked, at every split`, () => {
        const events = atEverySplit(chunked.replace("%", value!));
        assert.deepEqual(refusal(events), { status: 400, code: "TSGI_ERR_BAD_TRANSFER_ENCODING" });
        assert.ok(!events.some((e) => e.type === "request"), "no request head may come out");
      });
    }

    test(`Content-Length with ${what} around the digits → 400 TSGI_ERR_BAD_CONTENT_LENGTH`, () => {
      const events = atEverySplit(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${pad}5${pad}\r\n\r\nhello`);
      assert.deepEqual(refusal(events), { status: 400, code: "TSGI_ERR_BAD_CONTENT_LENGTH" });
    });

    test(`Expect with ${what} around 100-continue → 417, never 100-continue`, () => {
      const events = atEverySplit(
        `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: ${pad}100-continue${pad}\r\n\r\nhello`,
      );
      assert.deepEqual(refusal(events), { status: 417, code: "TSGI_ERR_EXPECTATION_FAILED" });
    });

    test(`Connection with ${what} around close / keep-alive / upgrade is none of them`, () => {
      const close = atEverySplit(`GET / HTTP/1.1\r\nHost: a\r\nConnection: ${pad}close${pad}\r\n\r\n`)[0];
      assert.ok(close?.type === "request" && close.keepAlive, "padded close is not close");
      const keep = atEverySplit(`GET / HTTP/1.0\r\nConnection: ${pad}keep-alive${pad}\r\n\r\n`)[0];
      assert.ok(keep?.type === "request" && !keep.keepAlive, "padded keep-alive is not keep-alive");
      const up = head(`GET / HTTP/1.1\r\nHost: a\r\nConnection: ${pad}upgrade\r\nUpgrade: websocket\r\n\r\n`);
      assert.equal(up.upgrade, "", "padded upgrade is not upgrade");
    });

    test(`Host with ${what} around it → 400 TSGI_ERR_BAD_HOST`, () => {
      const events = atEverySplit(`GET / HTTP/1.1\r\nHost: ${pad}a${pad}\r\n\r\n`);
      assert.deepEqual(refusal(events), { status: 400, code: "TSGI_ERR_BAD_HOST" });
    });
  }

  test("SP/HTAB around Expect and Connection members are still trimmed", () => {
    assert.equal(
      head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: \t100-continue \t,\r\n\r\nx")
        .expectContinue,
      true,
    );
    assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo ,\t close\t\r\n\r\n").keepAlive, false);
  });
});

describe("issue 12: absolute-form is for http and https only (RFC 9112 §3.2.2, RFC 9110 §4.2)", () => {
  for (const target of [
    "example.com:443",
    "localhost:80",
    "a::b",
    "urn:isbn:123",
    "ftp://example.com/",
    "ws://example.com/chat",
    "file:///etc/passwd",
    "mailto:a@example.com",
    "http:/x",
    "http:x",
    "https:example.com",
  ]) {
    test(`GET ${target} → 400 TSGI_ERR_BAD_TARGET, at every split`, () => {
      const events = atEverySplit(`GET ${target} HTTP/1.1\r\nHost: example.com\r\n\r\n`);
      assert.deepEqual(events, [{ type: "error", status: 400, code: "TSGI_ERR_BAD_TARGET" }]);
    });
  }

  for (const target of ["http://example.com/", "HTTPS://example.com:443/x?y", "hTtP://[::1]/"]) {
    test(`GET ${target} is absolute-form (scheme case-insensitive, RFC 3986 §3.1), at every split`, () => {
      const events = atEverySplit(`GET ${target} HTTP/1.1\r\nHost: example.com\r\n\r\n`);
      assert.equal(events[0]?.type === "request" && events[0].target, target);
    });
  }
});
