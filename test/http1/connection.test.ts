/**
 * Byte-exact tests of the server side of a connection (src/http1/connection.ts):
 * response framing, keep-alive, 100-continue, error responses and the state
 * table. Requests and expected responses are literal byte strings.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  LocalProtocolError,
  NEED_DATA,
  PAUSED,
  type ProtocolErrorCode,
  RemoteProtocolError,
  type ResponseHead,
  ServerConnection,
  type ServerConnectionOptions,
} from "../../src/http1/index.ts";

// ---- helpers ----------------------------------------------------------------

const bytes = (s: string): Buffer => Buffer.from(s, "latin1");
const text = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString("latin1"));
const join = (parts: Uint8Array[]): string => Buffer.concat(parts).toString("latin1");

const DATE = "Sun, 06 Nov 1994 08:49:37 GMT";

/** A connection without Date and Server headers, so expected bytes stay short. */
function bare(options: ServerConnectionOptions = {}): ServerConnection {
  return new ServerConnection({ date: null, serverHeader: null, ...options });
}

/** Feeds `request` and reads events until NEED_DATA or PAUSED (the head, body and end when complete). */
function receive(conn: ServerConnection, request: string): void {
  conn.receiveData(bytes(request));
  for (;;) {
    const ev = conn.nextEvent();
    if (ev === NEED_DATA || ev === PAUSED) return;
  }
}

/** A bare connection that has read `request`. */
function open(request: string, options: ServerConnectionOptions = {}): ServerConnection {
  const conn = bare(options);
  receive(conn, request);
  return conn;
}

const GET = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const HEAD = "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";
const GET10 = "GET / HTTP/1.0\r\n\r\n";
const GET10_KEEP = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";

function localError(fn: () => unknown, code: ProtocolErrorCode): void {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof LocalProtocolError, `expected LocalProtocolError, got ${err}`);
    assert.equal(err.code, code);
    assert.equal(err.status, 500);
    return true;
  });
}

// ---- framing ------------------------------------------------------------------

describe("sendResponse framing", () => {
  test("a complete body gets Content-Length", () => {
    const conn = open(GET);
    const out = conn.sendResponse({ status: 200, headers: ["Content-Type", "text/plain"] }, bytes("hello"));
    assert.equal(text(out), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
    assert.equal(conn.ourState, "DONE");
  });

  test("an empty complete body gets Content-Length: 0", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, new Uint8Array(0))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
  });

  test("a complete body keeps every byte (binary, Uint8Array input)", () => {
    const conn = open(GET);
    const out = conn.sendResponse({ status: 200, headers: [] }, new Uint8Array([0, 13, 10, 255]));
    assert.equal(text(out), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\x00\r\n\xff");
  });

  test("a reason phrase is standard unless given", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 404, headers: [] }, bytes(""))),
      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    );
    conn.startNextCycle();
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, reason: "Fine, th\xe4nks", headers: [] }, bytes(""))),
      "HTTP/1.1 200 Fine, th\xe4nks\r\nContent-Length: 0\r\n\r\n",
    );
    conn.startNextCycle();
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 599, headers: [] }, bytes(""))),
      "HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n",
    );
  });

  test("a streamed body on HTTP/1.1 is chunked", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["Content-Type", "text/plain"] })),
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert.equal(conn.ourState, "SEND_BODY");
    const hello = conn.sendData(bytes("hello"));
    assert.equal(hello.length, 3);
    assert.equal(join(hello), "5\r\nhello\r\n");
    assert.equal(
      join(conn.sendData(bytes("abcdefghijklmnopqrstuvwxyz"))),
      "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n",
    );
    assert.equal(join(conn.sendData(bytes("x".repeat(256)))), `100\r\n${"x".repeat(256)}\r\n`);
    assert.deepEqual(conn.sendData(new Uint8Array(0)), []);
    assert.equal(text(conn.sendEnd()), "0\r\n\r\n");
    assert.equal(conn.ourState, "DONE");
    assert.equal(conn.reusable, true);
  });

  test("a streamed body on HTTP/1.0 has no length and closes the connection", () => {
    const conn = open(GET10_KEEP);
    assert.equal(conn.willKeepAlive, true);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] })),
      "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
    );
    assert.equal(conn.willKeepAlive, false);
    assert.equal(join(conn.sendData(bytes("hello"))), "hello");
    assert.deepEqual(conn.sendData(bytes("")), []);
    assert.equal(conn.sendEnd(), null);
    assert.equal(conn.ourState, "MUST_CLOSE");
    assert.equal(conn.theirState, "MUST_CLOSE");
    assert.equal(conn.reusable, false);
  });

  test("an app Content-Length matching a complete body is kept, not duplicated", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["content-length", "5"] }, bytes("hello"))),
      "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
    );
  });

  for (const [declared, actual] of [
    ["5", "hell"],
    ["5", "hello!"],
    ["0", "x"],
    ["1", ""],
  ]) {
    test(`app Content-Length ${declared} with a ${actual!.length}-byte body → TSGI_ERR_BODY_LENGTH_MISMATCH`, () => {
      const conn = open(GET);
      localError(
        () => conn.sendResponse({ status: 200, headers: ["Content-Length", declared!] }, bytes(actual!)),
        "TSGI_ERR_BODY_LENGTH_MISMATCH",
      );
      // Nothing was sent: the server may still answer.
      assert.equal(conn.ourState, "SEND_RESPONSE");
      assert.equal(
        text(conn.sendResponse({ status: 500, headers: [] }, bytes(""))),
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
      );
    });
  }

  test("an app Content-Length frames a streamed body (no chunking)", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["Content-Length", "5"] })),
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
    );
    assert.equal(join(conn.sendData(bytes("hel"))), "hel");
    assert.deepEqual(conn.sendData(bytes("")), []);
    assert.equal(join(conn.sendData(bytes("lo"))), "lo");
    assert.equal(conn.sendEnd(), null);
    assert.equal(conn.ourState, "DONE");
  });

  test("an app Content-Length on HTTP/1.0 keep-alive keeps the connection", () => {
    const conn = open(GET10_KEEP);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["Content-Length", "2"] })),
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n",
    );
    assert.equal(join(conn.sendData(bytes("ok"))), "ok");
    assert.equal(conn.sendEnd(), null);
    assert.equal(conn.reusable, true);
  });

  test("writing more than the app Content-Length → TSGI_ERR_BODY_LENGTH_MISMATCH", () => {
    const conn = open(GET);
    conn.sendResponse({ status: 200, headers: ["Content-Length", "5"] });
    conn.sendData(bytes("hel"));
    localError(() => conn.sendData(bytes("lo!")), "TSGI_ERR_BODY_LENGTH_MISMATCH");
  });

  test("ending short of the app Content-Length → TSGI_ERR_BODY_LENGTH_MISMATCH, state ERROR", () => {
    const conn = open(GET);
    conn.sendResponse({ status: 200, headers: ["Content-Length", "5"] });
    conn.sendData(bytes("hel"));
    localError(() => conn.sendEnd(), "TSGI_ERR_BODY_LENGTH_MISMATCH");
    assert.equal(conn.ourState, "ERROR");
    assert.equal(conn.reusable, false);
  });

  for (const value of ["abc", "-1", "+1", "1 2", "1,1", "", "0x10", "1234567890123456"]) {
    test(`app Content-Length ${JSON.stringify(value)} → TSGI_ERR_BAD_RESPONSE_HEADER`, () => {
      const conn = open(GET);
      localError(
        () => conn.sendResponse({ status: 200, headers: ["Content-Length", value] }, bytes("")),
        "TSGI_ERR_BAD_RESPONSE_HEADER",
      );
    });
  }

  test("two app Content-Length fields → TSGI_ERR_BAD_RESPONSE_HEADER", () => {
    const conn = open(GET);
    localError(
      () =>
        conn.sendResponse(
          { status: 200, headers: ["Content-Length", "2", "Content-Length", "2"] },
          bytes("ok"),
        ),
      "TSGI_ERR_BAD_RESPONSE_HEADER",
    );
  });

  test("Transfer-Encoding, Connection and Keep-Alive from the app are dropped", () => {
    const conn = open(GET);
    const headers = [
      "Transfer-Encoding",
      "chunked",
      "X-A",
      "1",
      "Connection",
      "keep-alive, Upgrade",
      "Keep-Alive",
      "timeout=5",
      "transfer-encoding",
      "gzip",
      "X-B",
      "2",
    ];
    assert.equal(
      text(conn.sendResponse({ status: 200, headers }, bytes("ok"))),
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nContent-Length: 2\r\n\r\nok",
    );
    assert.equal(conn.reusable, true);
  });

  test("an app Transfer-Encoding does not change streamed framing", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["Transfer-Encoding", "gzip, chunked"] })),
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert.equal(join(conn.sendData(bytes("a"))), "1\r\na\r\n");
  });

  for (const value of ["close", "Close", "keep-alive, close", "close, upgrade", "x,close"]) {
    test(`app "Connection: ${value}" is honoured with the server's own Connection: close`, () => {
      const conn = open(GET);
      assert.equal(
        text(conn.sendResponse({ status: 200, headers: ["X", "1", "connection", value] }, bytes("ok"))),
        "HTTP/1.1 200 OK\r\nX: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
      );
      assert.equal(conn.willKeepAlive, false);
      assert.equal(conn.ourState, "MUST_CLOSE");
      assert.equal(conn.theirState, "MUST_CLOSE");
    });
  }

  test('app "Connection: closed" is not a close', () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["Connection", "closed"] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(conn.willKeepAlive, true);
  });

  test("app Connection: close on a streamed HTTP/1.1 body: chunked and close", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["Connection", "close"] })),
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    conn.sendData(bytes("x"));
    assert.equal(text(conn.sendEnd()), "0\r\n\r\n");
    assert.equal(conn.ourState, "MUST_CLOSE");
  });

  test("a rejected second sendResponse() leaves the streamed response's framing intact", () => {
    const conn = open(GET);
    conn.sendResponse({ status: 200, headers: [] });
    localError(() => conn.sendResponse({ status: 200, headers: [] }, bytes("x")), "TSGI_ERR_INVALID_STATE");
    assert.equal(join(conn.sendData(bytes("abc"))), "3\r\nabc\r\n");
    assert.equal(text(conn.sendEnd()), "0\r\n\r\n");
    assert.equal(conn.reusable, true);
  });
});

// ---- HEAD, 204, 304 -------------------------------------------------------------

describe("responses without a body", () => {
  test("HEAD with a complete body: Content-Length of the body, no body bytes", () => {
    const conn = open(HEAD);
    assert.equal(
      text(
        conn.sendResponse({ status: 200, headers: ["Content-Type", "text/html"] }, bytes("<html></html>")),
      ),
      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n",
    );
    assert.equal(conn.ourState, "DONE");
    assert.equal(conn.reusable, true);
  });

  test("HEAD with an app Content-Length and an empty body: kept, no mismatch", () => {
    const conn = open(HEAD);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["Content-Length", "1234"] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
    );
  });

  test("HEAD with an empty body and no Content-Length says no length", () => {
    const conn = open(HEAD);
    assert.equal(text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))), "HTTP/1.1 200 OK\r\n\r\n");
  });

  test("HEAD streamed on HTTP/1.1: Transfer-Encoding: chunked header, no body bytes, no last chunk", () => {
    const conn = open(HEAD);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] })),
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert.deepEqual(conn.sendData(bytes("hello")), []);
    assert.equal(conn.sendEnd(), null);
    assert.equal(conn.reusable, true);
  });

  test("HEAD streamed with an app Content-Length: kept, no body bytes", () => {
    const conn = open(HEAD);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["Content-Length", "5"] })),
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
    );
    assert.deepEqual(conn.sendData(bytes("hello")), []);
    assert.equal(conn.sendEnd(), null);
    assert.equal(conn.ourState, "DONE");
  });

  test("HEAD streamed on HTTP/1.0 keep-alive: no body, connection kept", () => {
    const conn = open("HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] })),
      "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n",
    );
    assert.deepEqual(conn.sendData(bytes("x")), []);
    assert.equal(conn.sendEnd(), null);
    assert.equal(conn.reusable, true);
  });

  test("204 never has Content-Length (the app's is dropped) nor a body", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 204, headers: ["Content-Length", "0", "X", "1"] }, bytes(""))),
      "HTTP/1.1 204 No Content\r\nX: 1\r\n\r\n",
    );
    assert.equal(conn.reusable, true);
  });

  test("204 streamed: no Transfer-Encoding, body pieces dropped", () => {
    const conn = open(GET);
    assert.equal(text(conn.sendResponse({ status: 204, headers: [] })), "HTTP/1.1 204 No Content\r\n\r\n");
    assert.deepEqual(conn.sendData(bytes("x")), []);
    assert.equal(conn.sendEnd(), null);
    assert.equal(conn.reusable, true);
  });

  test("204 on HTTP/1.0 keep-alive streamed: no body, so no forced close", () => {
    const conn = open(GET10_KEEP);
    assert.equal(
      text(conn.sendResponse({ status: 204, headers: [] })),
      "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n",
    );
    assert.equal(conn.sendEnd(), null);
    assert.equal(conn.reusable, true);
  });

  test("304 keeps an app Content-Length, adds none, sends no body", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 304, headers: ["ETag", '"x"', "Content-Length", "42"] }, bytes(""))),
      'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 42\r\n\r\n',
    );
    conn.startNextCycle();
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 304, headers: [] }, bytes(""))),
      "HTTP/1.1 304 Not Modified\r\n\r\n",
    );
  });

  // Only with acceptConnect (CONNECT is refused with 501 otherwise, see "CONNECT" below). The
  // connection still closes after the 2xx: the tunnel itself is the future gateway's job
  // (decision in docs/http-conformance.md).
  test("2xx to CONNECT has neither Content-Length nor Transfer-Encoding (RFC 9110 §8.6, RFC 9112 §6.1: MUST NOT)", () => {
    const request = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    const expected = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
    const opts = { acceptConnect: true };
    assert.equal(text(open(request, opts).sendResponse({ status: 200, headers: [] }, bytes(""))), expected);
    assert.equal(
      text(open(request, opts).sendResponse({ status: 200, headers: ["Content-Length", "5"] })),
      expected,
    );
    assert.equal(text(open(request, opts).sendResponse({ status: 200, headers: [] })), expected);
  });

  test("a non-2xx answer to CONNECT is framed as usual", () => {
    const conn = open("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", {
      acceptConnect: true,
    });
    assert.equal(
      text(conn.sendResponse({ status: 403, headers: [] }, bytes("no"))),
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
    );
  });

  test("304 streamed: no Transfer-Encoding", () => {
    const conn = open(GET);
    assert.equal(text(conn.sendResponse({ status: 304, headers: [] })), "HTTP/1.1 304 Not Modified\r\n\r\n");
    assert.deepEqual(conn.sendData(bytes("x")), []);
    assert.equal(conn.sendEnd(), null);
  });
});

// ---- Date and Server ------------------------------------------------------------------

describe("Date and Server", () => {
  test("Date from the injected function, then Server: tsgi by default, after the app's fields", () => {
    const conn = new ServerConnection({ date: () => DATE });
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["X", "1"] }, bytes("ok"))),
      `HTTP/1.1 200 OK\r\nX: 1\r\nContent-Length: 2\r\nDate: ${DATE}\r\nServer: tsgi\r\n\r\nok`,
    );
  });

  test("the date function is called once per response", () => {
    let calls = 0;
    const conn = new ServerConnection({ date: () => `d${++calls}`, serverHeader: null });
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: d1\r\n\r\n",
    );
    conn.startNextCycle();
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: d2\r\n\r\n",
    );
    assert.equal(calls, 2);
  });

  test("no options: Server: tsgi and no Date", () => {
    const conn = new ServerConnection();
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nServer: tsgi\r\n\r\n",
    );
  });

  test("a custom serverHeader", () => {
    const conn = new ServerConnection({ serverHeader: "edge/2.1" });
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nServer: edge/2.1\r\n\r\n",
    );
  });

  test("serverHeader: null and date: null leave both out", () => {
    const conn = new ServerConnection({ serverHeader: null, date: null });
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
  });

  test("app-set Date and Server are kept as given and not duplicated; the date function is not called", () => {
    let calls = 0;
    const conn = new ServerConnection({
      date: () => {
        calls++;
        return DATE;
      },
    });
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["server", "app/1", "DATE", "yesterday"] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nserver: app/1\r\nDATE: yesterday\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(calls, 0);
  });

  test("Date and Server are added to streamed heads too", () => {
    const conn = new ServerConnection({ date: () => DATE });
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] })),
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: ${DATE}\r\nServer: tsgi\r\n\r\n`,
    );
  });
});

// ---- validation of what the app sends ---------------------------------------------------

describe("invalid responses", () => {
  for (const status of [0, 99, 100, 101, 199, 1000, 200.5, Number.NaN, -200]) {
    test(`status ${status} → TSGI_ERR_BAD_STATUS`, () => {
      const conn = open(GET);
      localError(() => conn.sendResponse({ status, headers: [] }, bytes("")), "TSGI_ERR_BAD_STATUS");
      assert.equal(conn.ourState, "SEND_RESPONSE");
    });
  }

  for (const reason of ["O\rK", "O\nK", "OK\r\nX: 1", "O\x00K", "O\x7fK", "O\x01K", "\u0100", "\u20ac"]) {
    test(`reason ${JSON.stringify(reason)} → TSGI_ERR_BAD_STATUS`, () => {
      const conn = open(GET);
      localError(
        () => conn.sendResponse({ status: 200, reason, headers: [] }, bytes("")),
        "TSGI_ERR_BAD_STATUS",
      );
    });
  }

  for (const name of ["X Y", "", "X:Y", "X\tY", "X\rY", "X\nY", "\xc4", "(X)", "X\u0100"]) {
    test(`header name ${JSON.stringify(name)} → TSGI_ERR_BAD_RESPONSE_HEADER`, () => {
      const conn = open(GET);
      localError(
        () => conn.sendResponse({ status: 200, headers: [name, "v"] }, bytes("")),
        "TSGI_ERR_BAD_RESPONSE_HEADER",
      );
    });
  }

  for (const value of [
    "a\rb",
    "a\nb",
    "a\r\nX-Injected: 1",
    "a\x00b",
    "\x00",
    "a\x7fb",
    "a\x1bb",
    "\u0100",
    "caf\u00e9\u20ac",
    "\ud83d\ude00",
  ]) {
    test(`header value ${JSON.stringify(value)} → TSGI_ERR_BAD_RESPONSE_HEADER`, () => {
      const conn = open(GET);
      localError(
        () => conn.sendResponse({ status: 200, headers: ["X", value] }, bytes("")),
        "TSGI_ERR_BAD_RESPONSE_HEADER",
      );
      assert.equal(conn.ourState, "SEND_RESPONSE");
    });
  }

  test("a non-string header value → TSGI_ERR_BAD_RESPONSE_HEADER", () => {
    const conn = open(GET);
    localError(
      () => conn.sendResponse({ status: 200, headers: ["X", 5 as unknown as string] }, bytes("")),
      "TSGI_ERR_BAD_RESPONSE_HEADER",
    );
  });

  test("HTAB, SP and U+0080..U+00FF are allowed in values and written as single bytes", () => {
    const conn = open(GET);
    const out = conn.sendResponse(
      { status: 200, headers: ["X", "a\tb c\u00e9\u00ff\u0080", "Y", ""] },
      bytes(""),
    );
    assert.deepEqual(
      [...out],
      [...bytes("HTTP/1.1 200 OK\r\nX: a\tb c\xe9\xff\x80\r\nY: \r\nContent-Length: 0\r\n\r\n")],
    );
  });

  test("a string body: one string with a plain ASCII head, bytes (Latin-1 head, UTF-8 body) when the head has obs-text", () => {
    const plain = open(GET).sendResponse({ status: 200, headers: ["X", "a\tb"] }, "h\u00e9llo \u{1F600}");
    assert.equal(typeof plain, "string");
    assert.equal(plain, "HTTP/1.1 200 OK\r\nX: a\tb\r\nContent-Length: 11\r\n\r\nh\u00e9llo \u{1F600}");
    const body = Buffer.from("h\u00e9llo \u{1F600}", "utf8");
    for (const head of [
      { status: 200, headers: ["X", "caf\u00e9"] },
      { status: 200, reason: "Fine, th\u00e4nks", headers: [] },
    ]) {
      const out = open(GET).sendResponse(head, "h\u00e9llo \u{1F600}");
      assert.ok(Buffer.isBuffer(out), "obs-text in the head: written as bytes, not as a UTF-8 string");
      const line =
        head.reason === undefined ? "HTTP/1.1 200 OK\r\nX: caf\xe9\r\n" : "HTTP/1.1 200 Fine, th\xe4nks\r\n";
      assert.deepEqual(out, Buffer.concat([bytes(`${line}Content-Length: 11\r\n\r\n`), body]));
    }
  });

  test("lastTextAscii: whether the string returned is all ASCII, so it may be written as Latin-1", () => {
    const conn = open(GET);
    assert.equal(
      conn.sendResponse({ status: 200, headers: ["X", "a"] }, "hello"),
      "HTTP/1.1 200 OK\r\nX: a\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert.equal(conn.lastTextAscii, true);
    for (const body of ["h\u00e9llo", "\u20ac", "\u{1F600}", "a\ud800b", "\u0080"]) {
      const other = open(GET);
      assert.equal(typeof other.sendResponse({ status: 200, headers: [] }, body), "string");
      assert.equal(other.lastTextAscii, false, JSON.stringify(body));
    }
    const last = open(GET);
    assert.equal(
      last.sendResponse({ status: 200, headers: [] }, "\u007f~"),
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\u007f~",
    );
    assert.equal(last.lastTextAscii, true);
  });

  test("every tchar is allowed in a header name", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["!#$%&'*+-.^_`|~09Az", "v"] }, bytes(""))),
      "HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09Az: v\r\nContent-Length: 0\r\n\r\n",
    );
  });

  test("sendData / sendEnd outside SEND_BODY → TSGI_ERR_INVALID_STATE", () => {
    const conn = open(GET);
    localError(() => conn.sendData(bytes("x")), "TSGI_ERR_INVALID_STATE");
    localError(() => conn.sendEnd(), "TSGI_ERR_INVALID_STATE");
    conn.sendResponse({ status: 200, headers: [] }, bytes(""));
    localError(() => conn.sendData(bytes("x")), "TSGI_ERR_INVALID_STATE");
    localError(() => conn.sendEnd(), "TSGI_ERR_INVALID_STATE");
  });

  test("a second final response → TSGI_ERR_INVALID_STATE", () => {
    const conn = open(GET);
    conn.sendResponse({ status: 200, headers: [] }, bytes(""));
    localError(() => conn.sendResponse({ status: 200, headers: [] }, bytes("")), "TSGI_ERR_INVALID_STATE");
  });
});

// ---- repeated heads (FinalFields) ---------------------------------------------------------

describe("a response that repeats the previous one's fields", () => {
  /** Answers `request` on `conn` (a keep-alive connection) and starts the next cycle. */
  function answer(conn: ServerConnection, head: ResponseHead, body: string | Uint8Array): string {
    receive(conn, GET);
    const out = conn.sendResponse(head, body);
    conn.startNextCycle();
    return typeof out === "string" ? out : Buffer.from(out).toString("latin1");
  }

  test("is serialized the same, and a changed value in the same array is seen", () => {
    const conn = bare();
    const headers = ["Content-Type", "text/plain", "X-N", "1"];
    const first = answer(conn, { status: 200, headers }, "hi");
    assert.equal(
      first,
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-N: 1\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert.equal(answer(conn, { status: 200, headers: [...headers] }, "hi"), first);
    headers[3] = "2"; // the app changes its own array after the first response
    assert.match(answer(conn, { status: 200, headers }, "hi"), /\r\nX-N: 2\r\n/);
    assert.match(answer(conn, { status: 404, headers }, "hi"), /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(answer(conn, { status: 200, reason: "Fine", headers }, "hi"), /^HTTP\/1\.1 200 Fine\r\n/);
  });

  test("is still checked where it differs: an injected value after a clean one is refused", () => {
    const conn = bare();
    answer(conn, { status: 200, headers: ["X", "a"] }, "");
    receive(conn, GET);
    localError(
      () => conn.sendResponse({ status: 200, headers: ["X", "a\r\nSet-Cookie: x=1"] }, bytes("")),
      "TSGI_ERR_BAD_RESPONSE_HEADER",
    );
  });

  test("keeps what its fields mean: Content-Length against the body, Connection: close", () => {
    const conn = bare();
    const headers = ["Content-Length", "2"];
    answer(conn, { status: 200, headers }, "ok");
    receive(conn, GET);
    localError(() => conn.sendResponse({ status: 200, headers }, "three"), "TSGI_ERR_BODY_LENGTH_MISMATCH");

    const again = bare();
    const keep = answer(again, { status: 200, headers: ["X", "1"] }, "");
    assert.doesNotMatch(keep, /Connection: close/);
    receive(again, GET);
    const out = text(again.sendResponse({ status: 200, headers: ["Connection", "close"] }, bytes("")));
    assert.match(out!, /\r\nConnection: close\r\n/);
    assert.equal(again.ourState, "MUST_CLOSE");
  });

  test("gets its own framing line and Connection line", () => {
    const conn = bare();
    const head = { status: 200, headers: ["X", "1"] };
    for (const body of ["a", "bb", "bb", "", "a"]) {
      assert.equal(
        answer(conn, head, body),
        `HTTP/1.1 200 OK\r\nX: 1\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
    }
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse(head)),
      "HTTP/1.1 200 OK\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    const old = bare();
    receive(old, GET10_KEEP);
    assert.match(text(old.sendResponse(head, bytes("a")))!, /\r\nConnection: keep-alive\r\n/);
    old.startNextCycle();
    receive(old, GET10);
    assert.match(text(old.sendResponse(head, bytes("a")))!, /\r\nConnection: close\r\n/);
  });

  test("gets the Date of its own second", () => {
    let now = DATE;
    const conn = new ServerConnection({ date: () => now, serverHeader: "tsgi" });
    const head = { status: 200, headers: ["X", "1"] };
    assert.match(answer(conn, head, ""), new RegExp(`\r\nDate: ${DATE}\r\nServer: tsgi\r\n\r\n$`));
    now = "Sun, 06 Nov 1994 08:49:38 GMT";
    assert.match(answer(conn, head, ""), /\r\nDate: Sun, 06 Nov 1994 08:49:38 GMT\r\nServer: tsgi\r\n\r\n$/);
  });
});

// ---- keep-alive -------------------------------------------------------------------------

describe("keep-alive", () => {
  test("HTTP/1.1 keeps the connection by default: no Connection header", () => {
    const conn = open(GET);
    assert.equal(conn.willKeepAlive, true);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(conn.willKeepAlive, true);
    assert.equal(conn.reusable, true);
  });

  test("HTTP/1.1 with Connection: close → Connection: close, both sides MUST_CLOSE", () => {
    const conn = open("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert.equal(conn.theirState, "MUST_CLOSE");
    assert.equal(conn.willKeepAlive, false);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert.equal(conn.ourState, "MUST_CLOSE");
    assert.equal(conn.reusable, false);
  });

  test("HTTP/1.0 without keep-alive → Connection: close", () => {
    const conn = open(GET10);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes("ok"))),
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    );
    assert.equal(conn.reusable, false);
  });

  test("HTTP/1.0 with Connection: keep-alive → echoed Connection: keep-alive, reusable", () => {
    const conn = open(GET10_KEEP);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes("ok"))),
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
    );
    assert.equal(conn.reusable, true);
    conn.startNextCycle();
    assert.equal(conn.theirState, "IDLE");
  });

  test("HTTP/1.0 keep-alive, but the app closes → Connection: close", () => {
    const conn = open(GET10_KEEP);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: ["Connection", "close"] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert.equal(conn.reusable, false);
  });

  test("closeAfterResponse() before the head → Connection: close", () => {
    const conn = open(GET);
    conn.closeAfterResponse();
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert.equal(conn.ourState, "MUST_CLOSE");
    assert.equal(conn.theirState, "MUST_CLOSE");
  });

  test("closeAfterResponse() after the head: this response completes, the next one closes", () => {
    const conn = open(GET);
    conn.sendResponse({ status: 200, headers: [] });
    conn.closeAfterResponse();
    assert.equal(text(conn.sendEnd()), "0\r\n\r\n");
    assert.equal(conn.reusable, true);
    conn.startNextCycle();
    receive(conn, GET);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
  });

  test("a response before the request body is read: reusable only once the body ends", () => {
    const conn = bare();
    conn.receiveData(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"));
    const h = conn.nextEvent();
    assert.ok(typeof h === "object" && h.type === "request");
    conn.sendResponse({ status: 200, headers: [] }, bytes(""));
    assert.equal(conn.ourState, "DONE");
    assert.equal(conn.theirState, "SEND_BODY");
    assert.equal(conn.reusable, false);
    receive(conn, "abc");
    assert.equal(conn.theirState, "DONE");
    assert.equal(conn.reusable, true);
  });

  test("a response without any request (an early error) closes", () => {
    const conn = bare();
    assert.equal(
      text(conn.sendResponse({ status: 408, headers: [] }, bytes(""))),
      "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert.equal(conn.ourState, "MUST_CLOSE");
  });
});

// ---- 100-continue -----------------------------------------------------------------------

describe("100-continue", () => {
  const POST_EXPECT = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";

  test("sendContinue() returns the bytes once while the client waits", () => {
    const conn = open(POST_EXPECT);
    assert.equal(conn.clientWaitingForContinue, true);
    assert.equal(text(conn.sendContinue()), "HTTP/1.1 100 Continue\r\n\r\n");
    assert.equal(conn.clientWaitingForContinue, false);
    assert.equal(conn.sendContinue(), null);
    assert.equal(conn.ourState, "SEND_RESPONSE");
    receive(conn, "hello");
    assert.equal(conn.theirState, "DONE");
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(conn.reusable, true);
  });

  test("no Expect → sendContinue() is null", () => {
    const conn = open("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");
    assert.equal(conn.clientWaitingForContinue, false);
    assert.equal(conn.sendContinue(), null);
  });

  test("Expect on HTTP/1.0 or without a body → sendContinue() is null", () => {
    assert.equal(
      open("POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").sendContinue(),
      null,
    );
    assert.equal(open("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").sendContinue(), null);
  });

  test("no request yet → sendContinue() is null", () => {
    assert.equal(bare().sendContinue(), null);
  });

  test("a final response without 100 → Connection: close; sendContinue() is then null", () => {
    const conn = open(POST_EXPECT);
    assert.equal(
      text(conn.sendResponse({ status: 413, headers: [] }, bytes(""))),
      "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert.equal(conn.willKeepAlive, false);
    assert.equal(conn.clientWaitingForContinue, false);
    assert.equal(conn.sendContinue(), null);
    assert.equal(conn.ourState, "MUST_CLOSE");
  });

  test("a streamed final response without 100 also closes", () => {
    const conn = open(POST_EXPECT);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] })),
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    assert.equal(conn.sendContinue(), null);
  });

  test("the continue state does not leak into the next cycle", () => {
    const conn = open(POST_EXPECT);
    conn.sendContinue();
    receive(conn, "hello");
    conn.sendResponse({ status: 200, headers: [] }, bytes(""));
    conn.startNextCycle();
    receive(conn, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx");
    assert.equal(conn.sendContinue(), null);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes(""))),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
  });
});

// ---- sendError -----------------------------------------------------------------------

describe("sendError", () => {
  test("after a parse error: status, text body, Connection: close, byte-exact", () => {
    const conn = new ServerConnection({ date: () => DATE });
    conn.receiveData(bytes("GET / HTTP/1.1\nHost: a\r\n\r\n"));
    let caught: unknown;
    try {
      conn.nextEvent();
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof RemoteProtocolError);
    assert.equal(conn.theirState, "ERROR");
    assert.equal(conn.ourState, "IDLE");
    assert.equal(
      text(conn.sendError(caught)),
      "HTTP/1.1 400 Bad Request\r\n" +
        "Content-Type: text/plain; charset=utf-8\r\n" +
        "X-Content-Type-Options: nosniff\r\n" +
        "Content-Length: 45\r\n" +
        "Connection: close\r\n" +
        `Date: ${DATE}\r\n` +
        "Server: tsgi\r\n" +
        "\r\n" +
        "400 Bad Request: line not terminated by CRLF\n",
    );
    assert.equal(conn.ourState, "MUST_CLOSE");
    assert.equal(conn.sendError(caught), null);
  });

  test("a plain {status, message} while a request is being answered", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendError({ status: 413, message: "too big" })),
      "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 31\r\nConnection: close\r\n\r\n413 Content Too Large: too big\n",
    );
    assert.equal(conn.ourState, "MUST_CLOSE");
    assert.equal(conn.willKeepAlive, false);
    assert.equal(conn.reusable, false);
  });

  test("an unknown status uses the reason Error", () => {
    const conn = open(GET);
    assert.equal(
      text(conn.sendError({ status: 599, message: "x" })),
      "HTTP/1.1 599 \r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 13\r\nConnection: close\r\n\r\n599 Error: x\n",
    );
  });

  test("a LocalProtocolError answers 500", () => {
    const conn = open(GET);
    let caught: unknown;
    try {
      conn.sendResponse({ status: 200, headers: ["X", "\n"] }, bytes(""));
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof LocalProtocolError);
    const out = text(conn.sendError(caught))!;
    assert.ok(out.startsWith("HTTP/1.1 500 Internal Server Error\r\n"));
    assert.ok(out.endsWith(`\r\n\r\n500 Internal Server Error: ${caught.message}\n`));
  });

  test("the body is UTF-8 and Content-Length counts bytes", () => {
    const conn = open(GET);
    const out = conn.sendError({ status: 400, message: "caf\u00e9" })!;
    assert.ok(out.toString("latin1").includes("Content-Length: 23\r\n"));
    assert.ok(out.subarray(out.length - 23).equals(Buffer.from("400 Bad Request: caf\u00e9\n", "utf8")));
  });

  test("to a HEAD request: Content-Length but no body bytes", () => {
    const conn = open(HEAD);
    assert.equal(
      text(conn.sendError({ status: 400, message: "bad" })),
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 21\r\nConnection: close\r\n\r\n",
    );
  });

  test("null once a response is under way or done", () => {
    const streaming = open(GET);
    streaming.sendResponse({ status: 200, headers: [] });
    assert.equal(streaming.sendError({ status: 500, message: "late" }), null);
    assert.equal(streaming.ourState, "SEND_BODY");
    const done = open(GET);
    done.sendResponse({ status: 200, headers: [] }, bytes(""));
    assert.equal(done.sendError({ status: 500, message: "late" }), null);
    assert.equal(done.ourState, "DONE");
  });
});

// ---- cycles and states ------------------------------------------------------------------

describe("cycles and states", () => {
  test("state values along a keep-alive cycle with a streamed request and response", () => {
    const conn = bare();
    const states = (): string => `${conn.theirState}/${conn.ourState}`;
    assert.equal(states(), "IDLE/IDLE");
    assert.equal(conn.idle, true);
    conn.receiveData(bytes("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"));
    assert.equal(conn.idle, false);
    const h = conn.nextEvent();
    assert.ok(typeof h === "object" && h.type === "request");
    assert.equal(conn.request, h);
    assert.equal(states(), "SEND_BODY/SEND_RESPONSE");
    assert.equal(conn.nextEvent(), NEED_DATA);
    conn.receiveData(bytes("3\r\nabc\r\n"));
    const data = conn.nextEvent();
    assert.ok(typeof data === "object" && data.type === "data");
    assert.equal(states(), "SEND_BODY/SEND_RESPONSE");
    conn.sendResponse({ status: 200, headers: [] });
    assert.equal(states(), "SEND_BODY/SEND_BODY");
    conn.sendData(bytes("x"));
    assert.equal(states(), "SEND_BODY/SEND_BODY");
    conn.sendEnd();
    assert.equal(states(), "SEND_BODY/DONE");
    assert.equal(conn.reusable, false);
    conn.receiveData(bytes("0\r\n\r\n"));
    assert.deepEqual(conn.nextEvent(), { type: "end", trailers: [] });
    assert.equal(states(), "DONE/DONE");
    assert.equal(conn.nextEvent(), PAUSED);
    assert.equal(conn.reusable, true);
    conn.startNextCycle();
    assert.equal(states(), "IDLE/IDLE");
    assert.equal(conn.request, null);
    assert.equal(conn.idle, true);
  });

  test("state values along a closing cycle", () => {
    const conn = bare();
    conn.receiveData(bytes("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    conn.nextEvent();
    assert.equal(`${conn.theirState}/${conn.ourState}`, "SEND_BODY/SEND_RESPONSE");
    conn.nextEvent();
    assert.equal(`${conn.theirState}/${conn.ourState}`, "MUST_CLOSE/SEND_RESPONSE");
    conn.sendResponse({ status: 200, headers: [] }, bytes(""));
    assert.equal(`${conn.theirState}/${conn.ourState}`, "MUST_CLOSE/MUST_CLOSE");
    localError(() => conn.startNextCycle(), "TSGI_ERR_INVALID_STATE");
  });

  test("startNextCycle() before both sides are DONE → TSGI_ERR_INVALID_STATE", () => {
    const conn = bare();
    localError(() => conn.startNextCycle(), "TSGI_ERR_INVALID_STATE");
    receive(conn, GET);
    localError(() => conn.startNextCycle(), "TSGI_ERR_INVALID_STATE");
    conn.sendResponse({ status: 200, headers: [] });
    localError(() => conn.startNextCycle(), "TSGI_ERR_INVALID_STATE");
    conn.sendEnd();
    conn.startNextCycle();
    assert.equal(`${conn.theirState}/${conn.ourState}`, "IDLE/IDLE");
  });

  test("pipelined requests: the second is parsed only after startNextCycle()", () => {
    const conn = bare();
    conn.receiveData(bytes("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"));
    const first = conn.nextEvent();
    assert.ok(typeof first === "object" && first.type === "request" && first.target === "/1");
    assert.equal((conn.nextEvent() as { type: string }).type, "end");
    assert.equal(conn.nextEvent(), PAUSED);
    assert.equal(conn.bufferedBytes, "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n".length);
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes("1"))),
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1",
    );
    assert.equal(conn.nextEvent(), PAUSED);
    conn.startNextCycle();
    const second = conn.nextEvent();
    assert.ok(typeof second === "object" && second.type === "request" && second.target === "/2");
    assert.equal(conn.request, second);
  });

  test("EOF when idle → closed, theirState CLOSED", () => {
    const conn = bare();
    conn.receiveEOF();
    assert.deepEqual(conn.nextEvent(), { type: "closed" });
    assert.equal(conn.theirState, "CLOSED");
    assert.equal(conn.ourState, "IDLE");
  });

  test("EOF after a keep-alive cycle → closed once the next cycle starts", () => {
    const conn = open(GET);
    conn.receiveEOF();
    conn.sendResponse({ status: 200, headers: [] }, bytes(""));
    assert.equal(conn.nextEvent(), PAUSED);
    conn.startNextCycle();
    assert.deepEqual(conn.nextEvent(), { type: "closed" });
    assert.equal(conn.theirState, "CLOSED");
  });

  test("nextEvent() after closed returns closed again", () => {
    const conn = bare();
    conn.receiveEOF();
    assert.deepEqual(conn.nextEvent(), { type: "closed" });
    assert.deepEqual(conn.nextEvent(), { type: "closed" });
    assert.equal(conn.theirState, "CLOSED");
  });

  test("EOF mid-request → RemoteProtocolError 400 TSGI_ERR_INCOMPLETE_MESSAGE, theirState ERROR", () => {
    const conn = bare();
    conn.receiveData(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab"));
    conn.nextEvent();
    conn.nextEvent();
    conn.receiveEOF();
    assert.throws(
      () => conn.nextEvent(),
      (err) =>
        err instanceof RemoteProtocolError &&
        err.status === 400 &&
        err.code === "TSGI_ERR_INCOMPLETE_MESSAGE",
    );
    assert.equal(conn.theirState, "ERROR");
    assert.equal(conn.ourState, "SEND_RESPONSE");
  });

  test("a parse error sets theirState to ERROR and keeps the exact status/code", () => {
    const conn = bare();
    conn.receiveData(bytes("GET / HTTP/2.0\r\n\r\n"));
    assert.throws(
      () => conn.nextEvent(),
      (err) =>
        err instanceof RemoteProtocolError &&
        err.status === 505 &&
        err.code === "TSGI_ERR_UNSUPPORTED_VERSION",
    );
    assert.equal(conn.theirState, "ERROR");
    assert.equal(conn.reusable, false);
  });

  test("limits pass through to the parser", () => {
    const conn = bare({ limits: { maxHeaderCount: 1 } });
    assert.equal(conn.limits.maxHeaderCount, 1);
    assert.equal(conn.limits.maxRequestLineSize, 8192);
    conn.receiveData(bytes("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"));
    assert.throws(
      () => conn.nextEvent(),
      (err) =>
        err instanceof RemoteProtocolError && err.status === 431 && err.code === "TSGI_ERR_TOO_MANY_HEADERS",
    );
  });
});

// ---- CONNECT (issue 12) ---------------------------------------------------------------

/**
 * Feeds `pieces` to a fresh connection, reading events after each piece
 * (each complete request is answered 204 and the next cycle started), and
 * returns the events seen (a request head as "request METHOD", others by type)
 * and, on a RemoteProtocolError, its status, code and the error response bytes.
 */
function feed(
  pieces: Uint8Array[],
  options: ServerConnectionOptions = {},
): { events: string[]; error: { status: number; code: ProtocolErrorCode; response: string | null } | null } {
  const conn = bare(options);
  const events: string[] = [];
  try {
    for (const piece of pieces) {
      conn.receiveData(piece);
      for (;;) {
        const ev = conn.nextEvent();
        if (ev === NEED_DATA) break;
        if (ev === PAUSED) {
          // A complete request: answer it and go on with what is pipelined behind it.
          if (conn.ourState === "SEND_RESPONSE") conn.sendResponse({ status: 204, headers: [] }, bytes(""));
          if (!conn.reusable) break;
          conn.startNextCycle();
          continue;
        }
        events.push(ev.type === "request" ? `request ${ev.method}` : ev.type);
      }
    }
  } catch (err) {
    if (!(err instanceof RemoteProtocolError)) throw err;
    assert.equal(conn.theirState, "ERROR");
    return { events, error: { status: err.status, code: err.code, response: text(conn.sendError(err)) } };
  }
  return { events, error: null };
}

/** `feed` of `input` whole; asserts that every split in two and byte-at-a-time feeding give the same. */
function feedAtEverySplit(input: string, options: ServerConnectionOptions = {}): ReturnType<typeof feed> {
  const all = bytes(input);
  const whole = feed([all], options);
  for (let k = 1; k < all.length; k++) {
    assert.deepEqual(feed([all.subarray(0, k), all.subarray(k)], options), whole, `split at ${k}`);
  }
  const single: Uint8Array[] = [];
  for (let k = 0; k < all.length; k++) single.push(all.subarray(k, k + 1));
  assert.deepEqual(feed(single, options), whole, "byte at a time");
  return whole;
}

describe("CONNECT", () => {
  const message = "CONNECT is not implemented: this server opens no tunnels";
  const notImplemented =
    "HTTP/1.1 501 Not Implemented\r\n" +
    "Content-Type: text/plain; charset=utf-8\r\n" +
    "X-Content-Type-Options: nosniff\r\n" +
    `Content-Length: ${`501 Not Implemented: ${message}\n`.length}\r\n` +
    "Connection: close\r\n" +
    "\r\n" +
    `501 Not Implemented: ${message}\n`;

  for (const [what, input] of [
    ["CONNECT example.com:443", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"],
    ["CONNECT [::1]:8080", "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"],
    ["CONNECT over HTTP/1.0 without Host", "CONNECT 127.0.0.1:22 HTTP/1.0\r\n\r\n"],
    [
      "CONNECT with Content-Length and a body",
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 5\r\n\r\nhello",
    ],
    [
      "CONNECT pipelined behind a GET",
      "GET / HTTP/1.1\r\nHost: a\r\n\r\nCONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    ],
  ]) {
    test(`${what} → 501 TSGI_ERR_CONNECT_NOT_IMPLEMENTED, no request event, at every split (RFC 9110 §9.3.6)`, () => {
      const result = feedAtEverySplit(input!);
      // A GET pipelined before it is answered normally first.
      assert.deepEqual(result, {
        events: input!.startsWith("GET") ? ["request GET", "end"] : [],
        error: { status: 501, code: "TSGI_ERR_CONNECT_NOT_IMPLEMENTED", response: notImplemented },
      });
    });
  }

  // 400 for a malformed request wins over 501: the whole head is checked first.
  for (const [what, input, code] of [
    [
      "a target that is not authority-form",
      "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n",
      "TSGI_ERR_BAD_TARGET",
    ],
    ["origin-form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", "TSGI_ERR_BAD_TARGET"],
    ["a port that is not digits", "CONNECT a:https HTTP/1.1\r\nHost: a\r\n\r\n", "TSGI_ERR_BAD_TARGET"],
    ["no Host in HTTP/1.1", "CONNECT a:443 HTTP/1.1\r\n\r\n", "TSGI_ERR_BAD_HOST"],
    [
      "Transfer-Encoding with 0xA0",
      "CONNECT a:443 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \xa0chunked\r\n\r\n",
      "TSGI_ERR_BAD_TRANSFER_ENCODING",
    ],
    ["a bad field line", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\nX Y: 1\r\n\r\n", "TSGI_ERR_BAD_HEADER_NAME"],
  ]) {
    test(`malformed CONNECT (${what}) → 400 ${code}, not 501, at every split`, () => {
      const result = feedAtEverySplit(input!);
      assert.deepEqual(result.events, []);
      assert.equal(result.error?.status, 400);
      assert.equal(result.error?.code, code);
    });
  }

  test("acceptConnect: true (a gateway that can tunnel) gets the CONNECT request, at every split", () => {
    const result = feedAtEverySplit("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", {
      acceptConnect: true,
    });
    assert.deepEqual(result, { events: ["request CONNECT", "end"], error: null });
  });

  test("acceptConnect as a function is asked per CONNECT head, with that head", () => {
    const asked: string[] = [];
    let answer = false;
    const opts = {
      acceptConnect: (head: { method: string; target: string }) => {
        asked.push(`${head.method} ${head.target}`);
        return answer;
      },
    };
    const refused = feedAtEverySplit("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", opts);
    assert.equal(refused.error?.code, "TSGI_ERR_CONNECT_NOT_IMPLEMENTED");
    answer = true;
    const accepted = feedAtEverySplit("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", opts);
    assert.deepEqual(accepted, { events: ["request CONNECT", "end"], error: null });
    assert.ok(asked.length > 0 && asked.every((a) => a === "CONNECT a:443"));
    // Not asked for other methods.
    asked.length = 0;
    feedAtEverySplit("GET / HTTP/1.1\r\nHost: a\r\n\r\n", opts);
    assert.deepEqual(asked, []);
  });

  test("after the 501 the connection can only close", () => {
    const conn = bare();
    conn.receiveData(bytes("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert.throws(() => conn.nextEvent(), RemoteProtocolError);
    assert.equal(conn.request, null);
    assert.equal(conn.theirState, "ERROR");
    assert.equal(conn.ourState, "IDLE");
    assert.ok(conn.sendError({ status: 501, message }) !== null);
    assert.equal(conn.ourState, "MUST_CLOSE");
    assert.equal(conn.reusable, false);
  });
});

describe("interim responses (sendInformational)", () => {
  test("103 Early Hints before the final response; framing fields left out", () => {
    const conn = open(GET);
    const hints = conn.sendInformational({
      status: 103,
      reason: "Early Hints",
      headers: ["Link", "</a.css>; rel=preload", "Content-Length", "5"],
    });
    assert.equal(text(hints), "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
    assert.equal(conn.ourState, "SEND_RESPONSE");
    assert.equal(
      text(conn.sendResponse({ status: 200, headers: [] }, bytes("ok"))),
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
  });

  test("nothing to an HTTP/1.0 client (RFC 9110 §15.2)", () => {
    assert.equal(open(GET10).sendInformational({ status: 103, headers: ["Link", "</a>"] }), null);
  });

  test("refused: 100, 101, a final status, a bad field, and after the final head", () => {
    for (const status of [100, 101, 200, 99]) {
      localError(() => open(GET).sendInformational({ status, headers: [] }), "TSGI_ERR_BAD_STATUS");
    }
    localError(
      () => open(GET).sendInformational({ status: 103, headers: ["Link", "a\r\nX: y"] }),
      "TSGI_ERR_BAD_RESPONSE_HEADER",
    );
    const conn = open(GET);
    conn.sendResponse({ status: 200, headers: [] });
    localError(() => conn.sendInformational({ status: 103, headers: [] }), "TSGI_ERR_INVALID_STATE");
  });
});

describe("response trailers (sendEnd)", () => {
  test("a chunked body ends with the trailer section (RFC 9112 §7.1.2)", () => {
    const conn = open(GET);
    conn.sendResponse({ status: 200, headers: ["Trailer", "X-Sum"] });
    conn.sendData(bytes("abc"));
    assert.equal(text(conn.sendEnd(["X-Sum", "6", "X-Other", "b"])), "0\r\nX-Sum: 6\r\nX-Other: b\r\n\r\n");
    assert.equal(conn.ourState, "DONE");
  });

  test("no trailers: the plain last chunk; Content-Length or HTTP/1.0 framing: trailers dropped", () => {
    const plain = open(GET);
    plain.sendResponse({ status: 200, headers: [] });
    assert.equal(text(plain.sendEnd([])), "0\r\n\r\n");
    const length = open(GET);
    length.sendResponse({ status: 200, headers: ["Content-Length", "1"] });
    length.sendData(bytes("x"));
    assert.equal(length.sendEnd(["X-Sum", "1"]), null);
    const old = open(GET10);
    old.sendResponse({ status: 200, headers: [] });
    assert.equal(old.sendEnd(["X-Sum", "1"]), null);
  });

  test("a trailer that frames, routes or controls the connection is refused, state unchanged (RFC 9110 §6.5.1)", () => {
    for (const name of ["Content-Length", "transfer-encoding", "Host", "Connection", "Trailer"]) {
      const conn = open(GET);
      conn.sendResponse({ status: 200, headers: [] });
      localError(() => conn.sendEnd([name, "1"]), "TSGI_ERR_BAD_RESPONSE_HEADER");
      assert.equal(conn.ourState, "SEND_BODY");
    }
    const conn = open(GET);
    conn.sendResponse({ status: 200, headers: [] });
    localError(() => conn.sendEnd(["X-Ok", "a\nb"]), "TSGI_ERR_BAD_RESPONSE_HEADER");
  });
});
