/**
 * HTTP/1.1 conformance of the whole server over real sockets: every refusal
 * with its exact status and a closed connection, keep-alive and its absence,
 * pipelining, chunked bodies both ways, HEAD, 100-continue, unread bodies,
 * app failures and the access log. Each success case proves the connection
 * is still usable by sending another request on it; each error case proves
 * it is closed and that a request pipelined behind the bad one is never
 * answered.
 */

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { Environ, StartResponse, WSGIResult } from "../../src/gateways/wsgi/types.ts";
import type { BodySink, Exchange } from "../../src/server/exchange.ts";
import { type Capture, rawRequest, startServer, statuses } from "../helpers.ts";
import {
  assertClosed,
  assertStillOpen,
  type Client,
  ClientPool,
  echoApp,
  echoOf,
  get,
  header,
  type Response,
  show,
  sleep,
  startRaw,
} from "./client.ts";

const LIMITS = { maxRequestLineSize: 256, maxHeaderSize: 1024, maxHeaderCount: 10, maxBodySize: 1000 };
const FIXED = "hello world";
const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

let appCalls = 0;
let resultClosed = 0;
let generatorFinished = 0;
const PIECE = "x".repeat(64 * 1024);

/** Routes on PATH_INFO; everything unknown is echoed. */
function app(environ: Environ, startResponse: StartResponse): WSGIResult {
  appCalls++;
  switch (environ.PATH_INFO) {
    case "/fixed":
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [FIXED];
    case "/stream":
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () {
        yield "ab";
        yield ""; // must not end the chunked body
        yield "cde";
      })();
    case "/big-stream": {
      // 16 MiB in 64 KiB pieces: long enough to be cut off mid-response. A
      // closable iterable, so PEP 3333's close() can be observed.
      startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
      let i = 0;
      return {
        [Symbol.iterator]: () => ({
          next: (): IteratorResult<string> =>
            i++ < 256 ? { done: false, value: PIECE } : { done: true, value: undefined },
        }),
        close: () => {
          resultClosed++;
        },
      };
    }
    case "/big-generator":
      startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
      return (function* () {
        try {
          for (let i = 0; i < 256; i++) yield PIECE;
        } finally {
          generatorFinished++;
        }
      })();
    case "/throw":
      throw new Error("boom in the app");
    case "/throw-mid":
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () {
        yield "partial";
        throw new Error("boom mid-body");
      })();
    default:
      return echoApp(environ, startResponse);
  }
}

let port: number;
let errors: Capture;
let access: Capture;
let close: () => Promise<void>;
const pool = new ClientPool();
const open = (p = port): Promise<Client> => pool.open(p);

before(async () => {
  const s = await startServer(app, { limits: LIMITS });
  port = s.port;
  errors = s.errors;
  access = s.access;
  close = () => s.server.close(1000);
});

afterEach(() => pool.destroyAll());

after(() => close());

/**
 * Sends `bytes` followed by a valid pipelined GET and expects exactly one
 * response with `status` and `Connection: close`, then the connection closed.
 */
async function refused(bytes: string, status: number): Promise<Response> {
  const c = await open();
  const callsBefore = appCalls;
  c.send(bytes + get("/pipelined-after-error"));
  const res = await c.read();
  assert.equal(res.status, status, show(res));
  assert.equal(header(res, "connection"), "close", show(res));
  assert.equal(header(res, "content-type"), "text/plain; charset=utf-8");
  assert.equal(Number(header(res, "content-length")), res.body.length);
  await assertClosed(c);
  assert.equal(appCalls, callsBefore, "the app must not be called for a refused request");
  return res;
}

const post = (head: string, body = "") => `POST / HTTP/1.1\r\nHost: t\r\n${head}\r\n${body}`;
const chunkedPost = (body: string) => post("Transfer-Encoding: chunked\r\n", body);

describe("400 Bad Request, then close", () => {
  const cases: [string, string][] = [
    [
      "Content-Length and Transfer-Encoding",
      post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
    ],
    [
      "Transfer-Encoding and Content-Length",
      post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"),
    ],
    ["duplicate Content-Length (same value)", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello")],
    ["Content-Length as a list", post("Content-Length: 5, 5\r\n", "hello")],
    ["Content-Length +5", post("Content-Length: +5\r\n", "hello")],
    ["Content-Length '5 5'", post("Content-Length: 5 5\r\n", "hello")],
    ["Content-Length 0x5", post("Content-Length: 0x5\r\n", "hello")],
    ["Content-Length -1", post("Content-Length: -1\r\n", "hello")],
    ["Content-Length empty", post("Content-Length:\r\n", "")],
    ["final transfer coding not chunked", post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n")],
    ["Transfer-Encoding: gzip alone", post("Transfer-Encoding: gzip\r\n", "0\r\n\r\n")],
    ["Transfer-Encoding: identity", post("Transfer-Encoding: identity\r\n", "")],
    ["chunked twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")],
    ["bare LF line endings", "GET / HTTP/1.1\nHost: t\n\n"],
    ["bare LF after one header", "GET / HTTP/1.1\r\nHost: t\nX-A: 1\r\n\r\n"],
    ["bare LF ending the head", "GET / HTTP/1.1\r\nHost: t\r\n\n"],
    ["bare CR in the request line", "GET / HTTP/1.1\rHost: t\r\n\r\n"],
    ["bare CR between headers", "GET / HTTP/1.1\r\nHost: t\rX-A: 1\r\n\r\n"],
    ["bare CR inside a value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n"],
    ["obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"],
    ["obs-fold with a tab", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tb\r\n\r\n"],
    ["space before the colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n"],
    ["tab before the colon", "GET / HTTP/1.1\r\nHost: t\r\nX-A\t: 1\r\n\r\n"],
    ["non-tchar in the method", "G@T / HTTP/1.1\r\nHost: t\r\n\r\n"],
    ["NUL in the method", "G\x00T / HTTP/1.1\r\nHost: t\r\n\r\n"],
    ["non-tchar in a header name", "GET / HTTP/1.1\r\nHost: t\r\nX@Y: 1\r\n\r\n"],
    ["quote in a header name", 'GET / HTTP/1.1\r\nHost: t\r\nX"Y: 1\r\n\r\n'],
    ["header line without a colon", "GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n"],
    ["NUL in a header value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n"],
    ["CTL 0x01 in a header value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n"],
    ["ESC in a header value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x1bb\r\n\r\n"],
    ["DEL in a header value", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x7fb\r\n\r\n"],
    ["non-hex chunk size", chunkedPost("zz\r\nhello\r\n0\r\n\r\n")],
    ["signed chunk size", chunkedPost("+5\r\nhello\r\n0\r\n\r\n")],
    ["empty chunk size", chunkedPost("\r\nhello\r\n0\r\n\r\n")],
    ["overflowing chunk size", chunkedPost("ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")],
    ["chunk size with a space inside", chunkedPost("5 5\r\nhello\r\n0\r\n\r\n")],
    ["chunk size line ending in bare LF", chunkedPost("5\nhello\r\n0\r\n\r\n")],
    ["missing CRLF after chunk data", chunkedPost("5\r\nhelloXX\r\n0\r\n\r\n")],
    ["chunk data longer than its size", chunkedPost("3\r\nhello\r\n0\r\n\r\n")],
    ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n"],
    ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"],
    ["two Host fields, same value", "GET / HTTP/1.1\r\nHost: t\r\nHost: t\r\n\r\n"],
    ["forbidden field in trailers", chunkedPost("0\r\nContent-Length: 5\r\n\r\n")],
    ["Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    // Issue 12: 0xA0 is not whitespace in HTTP (RFC 9110 §5.6.3), whatever JavaScript's trim() says.
    [
      "Transfer-Encoding: 0xA0 chunked 0xA0",
      post("Transfer-Encoding: \xa0chunked\xa0\r\n", "5\r\nhello\r\n0\r\n\r\n"),
    ],
    ["Content-Length: 0xA0 5 0xA0", post("Content-Length: \xa05\xa0\r\n", "hello")],
    // Issue 12: absolute-form only for http and https (RFC 9112 §3.2.2), authority-form only for CONNECT.
    ["GET example.com:443 (not an http(s) URI)", "GET example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n"],
    ["GET ftp://example.com/", "GET ftp://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n"],
    // Issue 12: a malformed CONNECT is a 400 before it is a 501.
    ["CONNECT with a target that is not authority-form", "CONNECT example.com HTTP/1.1\r\nHost: t\r\n\r\n"],
  ];
  for (const [name, bytes] of cases) {
    test(name, async () => {
      await refused(bytes, 400);
    });
  }
});

describe("other refusals, then close", () => {
  test("414 for a request line over maxRequestLineSize", async () => {
    await refused(`GET /${"a".repeat(LIMITS.maxRequestLineSize)} HTTP/1.1\r\nHost: t\r\n\r\n`, 414);
  });

  test("a request line exactly at the limit is accepted", async () => {
    const path = `/${"a".repeat(LIMITS.maxRequestLineSize - "GET  HTTP/1.1".length - 1)}`;
    const c = await open();
    c.send(get(path));
    const res = await c.read();
    assert.equal(res.status, 200, show(res));
    assert.equal(echoOf(res).path, path);
    await assertStillOpen(c);
  });

  test("431 for a header section over maxHeaderSize", async () => {
    await refused(`GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${"a".repeat(LIMITS.maxHeaderSize)}\r\n\r\n`, 431);
  });

  test("431 for more than maxHeaderCount fields", async () => {
    let fields = "Host: t\r\n";
    for (let i = 0; i < LIMITS.maxHeaderCount; i++) fields += `X-${i}: ${i}\r\n`;
    await refused(`GET / HTTP/1.1\r\n${fields}\r\n`, 431);
  });

  test("431 for too many trailer fields", async () => {
    let trailers = "";
    for (let i = 0; i <= LIMITS.maxHeaderCount; i++) trailers += `X-${i}: ${i}\r\n`;
    await refused(chunkedPost(`0\r\n${trailers}\r\n`), 431);
  });

  test("413 for a Content-Length over maxBodySize, before any body byte and without calling the app", async () => {
    await refused(post(`Content-Length: ${LIMITS.maxBodySize + 1}\r\n`), 413);
  });

  test("413 for a chunked body that crosses maxBodySize midway", async () => {
    const piece = "x".repeat(500);
    await refused(chunkedPost(`1f4\r\n${piece}\r\n1f4\r\n${piece}\r\na\r\n0123456789\r\n0\r\n\r\n`), 413);
  });

  test("a body of exactly maxBodySize is accepted, chunked or not", async () => {
    const body = "y".repeat(LIMITS.maxBodySize);
    const c = await open();
    c.send(post(`Content-Length: ${body.length}\r\n`, body));
    c.send(chunkedPost(`1f4\r\n${body.slice(0, 500)}\r\n1f4\r\n${body.slice(500)}\r\n0\r\n\r\n`));
    for (let i = 0; i < 2; i++) {
      const res = await c.read();
      assert.equal(res.status, 200, show(res));
      assert.equal(echoOf(res).body, body);
    }
    await assertStillOpen(c);
  });

  test("505 for HTTP/2.0", async () => {
    await refused("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
  });

  test("505 for HTTP/1.2", async () => {
    await refused("GET / HTTP/1.2\r\nHost: t\r\n\r\n", 505);
  });

  test("400 (not 505) for a malformed version", async () => {
    await refused("GET / HTTP/1.10\r\nHost: t\r\n\r\n", 400);
  });

  test("501 for Transfer-Encoding: gzip, chunked", async () => {
    await refused(chunkedPost("").replace("chunked", "gzip, chunked"), 501);
  });

  test("501 for a well-formed CONNECT: no gateway can tunnel, so the app is never called (RFC 9110 §9.3.6)", async () => {
    const res = await refused("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501);
    assert.match(res.body.toString("latin1"), /^501 Not Implemented: CONNECT is not implemented/);
    assert.equal(header(res, "content-length"), String(res.body.length));
  });

  test("417 for Expect: something-else", async () => {
    await refused(post("Content-Length: 5\r\nExpect: something-else\r\n", "hello"), 417);
  });
});

describe("keep-alive", () => {
  test("HTTP/1.1 keeps the connection open by default", async () => {
    const c = await open();
    c.send(get("/first"));
    const res = await c.read();
    assert.equal(res.status, 200);
    assert.equal(header(res, "connection"), undefined, show(res));
    await assertStillOpen(c, "/second");
    await assertStillOpen(c, "/third");
  });

  test("Connection: close is answered with Connection: close, then the connection closes", async () => {
    const c = await open();
    c.send(get("/bye", "Connection: close\r\n") + get("/never"));
    const res = await c.read();
    assert.equal(res.status, 200);
    assert.equal(echoOf(res).path, "/bye");
    assert.equal(header(res, "connection"), "close");
    await assertClosed(c);
  });

  test("HTTP/1.0 closes by default", async () => {
    const c = await open();
    c.send("GET /old HTTP/1.0\r\n\r\n");
    const res = await c.read();
    assert.equal(res.status, 200);
    assert.equal(echoOf(res).protocol, "HTTP/1.0");
    assert.equal(header(res, "connection"), "close");
    assert.equal(res.framing, "length");
    await assertClosed(c);
  });

  test("HTTP/1.0 with Connection: keep-alive gets Connection: keep-alive and stays open", async () => {
    const c = await open();
    for (const path of ["/ka1", "/ka2"]) {
      c.send(`GET ${path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`);
      const res = await c.read();
      assert.equal(res.status, 200);
      assert.equal(echoOf(res).path, path);
      assert.equal(header(res, "connection"), "keep-alive", show(res));
    }
    await assertStillOpen(c);
  });

  test("a client that half-closes after pipelined requests gets every response, then the close", async () => {
    const r = await rawRequest(port, get("/h1") + post("Content-Length: 2\r\n", "ok") + get("/h3"), {
      endAfterWrite: true,
      timeoutMs: 2000,
    });
    assert.equal(r.closed, true);
    assert.deepEqual(statuses(r.text), [200, 200, 200]);
    assert.ok(r.text.includes('"path":"/h3"'), r.text);
  });

  test("a client that half-closes in the middle of a request gets 400 and the close", async () => {
    const r = await rawRequest(port, post("Content-Length: 10\r\n", "abc"), {
      endAfterWrite: true,
      timeoutMs: 2000,
    });
    assert.equal(r.closed, true);
    assert.deepEqual(statuses(r.text), [400]);
  });

  test("an HTTP/1.0 streamed response is delimited by closing the connection", async () => {
    const c = await open();
    c.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const res = await c.read();
    assert.equal(res.status, 200);
    assert.equal(res.framing, "close");
    assert.equal(header(res, "transfer-encoding"), undefined);
    assert.equal(header(res, "content-length"), undefined);
    assert.equal(header(res, "connection"), "close");
    assert.equal(res.body.toString(), "abcde");
    assert.equal(c.ended, true);
  });
});

describe("pipelining", () => {
  const stream =
    get("/one") +
    post("Content-Length: 5\r\n", "hello").replace("POST /", "POST /two") +
    chunkedPost("3;x=y\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Sum: 7\r\n\r\n").replace("POST /", "POST /three") +
    "HEAD /fixed HTTP/1.1\r\nHost: t\r\n\r\n" +
    get("/five?q=1") +
    "PUT /six HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";

  async function readAll(c: Client): Promise<Response[]> {
    const out: Response[] = [];
    for (let i = 0; i < 6; i++) out.push(await c.read({ head: i === 3 }));
    return out;
  }

  function check(responses: Response[]): void {
    const summary = responses.map((r) =>
      r.status === 200 && header(r, "content-type") === "application/json"
        ? `${echoOf(r).method} ${echoOf(r).path} ${echoOf(r).query} ${echoOf(r).body}`
        : `${r.status} ${header(r, "content-length")} ${r.body.length}`,
    );
    assert.deepEqual(summary, [
      "GET /one  ",
      "POST /two  hello",
      "POST /three  abcdefg",
      `200 ${FIXED.length} 0`,
      "GET /five q=1 ",
      "PUT /six  ",
    ]);
    assert.deepEqual(echoOf(responses[2]!).trailers, [["X-Sum", "7"]]);
  }

  const withoutDate = (rs: Response[]) =>
    rs.map((r) => r.raw.toString("latin1").replace(/\r\nDate: [^\r]*/, "")).join("");

  test("requests written at once are answered strictly in order", async () => {
    const c = await open();
    c.send(stream);
    const responses = await readAll(c);
    check(responses);
    await assertStillOpen(c);
  });

  test("the same stream written one byte at a time gives identical responses", async () => {
    const whole = await open();
    whole.send(stream);
    const expected = await readAll(whole);
    const slow = await open();
    await slow.sendBytewise(stream);
    const responses = await readAll(slow);
    check(responses);
    assert.equal(withoutDate(responses), withoutDate(expected));
    await assertStillOpen(slow);
  });

  test("the stream split at every position in two writes gives the same responses", async () => {
    const whole = await open();
    whole.send(stream);
    const expected = withoutDate(await readAll(whole));
    for (let cut = 1; cut < stream.length; cut += 7) {
      const c = await open();
      c.send(stream.slice(0, cut));
      await new Promise((resolve) => setImmediate(resolve));
      c.send(stream.slice(cut));
      assert.equal(withoutDate(await readAll(c)), expected, `cut at ${cut}`);
      c.destroy();
    }
  });
});

describe("request bodies", () => {
  test("a chunked body reaches the app de-chunked, extensions ignored, trailers in tsgi.trailers", async () => {
    const c = await open();
    c.send(
      chunkedPost(
        '5;ext=1\r\nhello\r\n6;a;b="q;x"\r\n world\r\n0;last\r\nX-Checksum: abc\r\nX-Other:  2 \r\n\r\n',
      ),
    );
    const res = await c.read();
    assert.equal(res.status, 200, show(res));
    const echo = echoOf(res);
    assert.equal(echo.body, "hello world");
    assert.equal(echo.contentLength, "11");
    assert.deepEqual(echo.trailers, [
      ["X-Checksum", "abc"],
      ["X-Other", "2"],
    ]);
    await assertStillOpen(c);
  });

  test("an empty chunked body has no trailers", async () => {
    const c = await open();
    c.send(chunkedPost("0\r\n\r\n"));
    const echo = echoOf(await c.read());
    assert.equal(echo.body, "");
    assert.equal(echo.contentLength, "0");
    assert.deepEqual(echo.trailers, []);
    await assertStillOpen(c);
  });

  test("binary body bytes arrive unchanged", async () => {
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString("latin1");
    const c = await open();
    c.send(post(`Content-Length: 256\r\n`, body));
    assert.equal(echoOf(await c.read()).body, body);
    await assertStillOpen(c);
  });
});

describe("responses", () => {
  test("an array result gets a Content-Length", async () => {
    const c = await open();
    c.send(get("/fixed"));
    const res = await c.read();
    assert.equal(res.framing, "length");
    assert.equal(header(res, "content-length"), String(FIXED.length));
    assert.equal(header(res, "transfer-encoding"), undefined);
    assert.equal(res.body.toString(), FIXED);
    await assertStillOpen(c);
  });

  test("a generator result is sent chunked, with exact framing and no empty chunk", async () => {
    const c = await open();
    c.send(get("/stream"));
    const res = await c.read();
    assert.equal(res.framing, "chunked");
    assert.equal(header(res, "transfer-encoding"), "chunked");
    assert.equal(header(res, "content-length"), undefined);
    assert.ok(show(res).endsWith("\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"), show(res));
    assert.equal(res.body.toString(), "abcde");
    await assertStillOpen(c);
  });

  test("HEAD gets the headers of GET, including its Content-Length, and no body", async () => {
    const c = await open();
    c.send(get("/fixed"));
    const getRes = await c.read();
    c.send("HEAD /fixed HTTP/1.1\r\nHost: t\r\n\r\n");
    const headRes = await c.read({ head: true });
    const names = (r: Response) => r.headers.filter(([n]) => n !== "Date");
    assert.deepEqual(names(headRes), names(getRes));
    assert.equal(header(headRes, "content-length"), String(FIXED.length));
    assert.equal(headRes.body.length, 0);
    // Any body byte would be read as the next status line and fail here.
    await assertStillOpen(c);
    assert.equal(c.text(), "");
  });

  test("HEAD of a streamed response says chunked and sends nothing", async () => {
    const c = await open();
    c.send("HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    const res = await c.read({ head: true });
    assert.equal(res.status, 200);
    assert.equal(header(res, "transfer-encoding"), "chunked");
    await assertStillOpen(c);
  });

  test("Date (IMF-fixdate) and Server: tsgi are present", async () => {
    const c = await open();
    c.send(get("/fixed"));
    const res = await c.read();
    assert.match(header(res, "date") ?? "", IMF_FIXDATE);
    const date = Date.parse(header(res, "date")!);
    assert.ok(Math.abs(date - Date.now()) < 5000, "Date is about now");
    assert.equal(header(res, "server"), "tsgi");
  });

  test("serverHeader: null removes the Server header", async (t) => {
    const s = await startServer(echoApp, { serverHeader: null });
    t.after(() => s.server.close(1000));
    const c = await open(s.port);
    c.send(get("/"));
    const res = await c.read();
    assert.equal(res.status, 200);
    assert.equal(header(res, "server"), undefined);
    assert.match(header(res, "date") ?? "", IMF_FIXDATE);
  });
});

describe("100-continue", () => {
  test("the client gets 100 Continue before it sends the body, then the final response", async () => {
    const c = await open();
    c.send(post("Content-Length: 5\r\nExpect: 100-continue\r\n"));
    const interim = await c.read();
    assert.equal(show(interim), "HTTP/1.1 100 Continue\r\n\r\n");
    assert.equal(c.text(), "");
    c.send("hello");
    const res = await c.read();
    assert.equal(res.status, 200);
    assert.equal(echoOf(res).body, "hello");
    await assertStillOpen(c);
  });

  test("a chunked body with Expect: 100-continue", async () => {
    const c = await open();
    c.send(chunkedPost("").replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n"));
    assert.equal((await c.read()).status, 100);
    c.send("3\r\nabc\r\n0\r\n\r\n");
    assert.equal(echoOf(await c.read()).body, "abc");
    await assertStillOpen(c);
  });

  test("a Content-Length over the limit with Expect: 100-continue gets 413 and never a 100", async () => {
    const c = await open();
    c.send(post(`Content-Length: ${LIMITS.maxBodySize + 1}\r\nExpect: 100-continue\r\n`));
    const res = await c.read();
    assert.equal(res.status, 413);
    assert.equal(header(res, "connection"), "close");
    await assertClosed(c);
  });

  test("no 100 for a request without a body", async () => {
    const c = await open();
    c.send(get("/nobody", "Expect: 100-continue\r\n"));
    const res = await c.read();
    assert.equal(res.status, 200);
    await assertStillOpen(c);
  });

  describe("at the exchange level", () => {
    let rawPort: number;
    let closeRaw: () => Promise<void>;
    let pending: ((ex: Exchange) => void) | null = null;

    before(async () => {
      const s = await startRaw((ex) => {
        if (ex.request.target === "/respond-now") {
          ex.respond({ status: 200, headers: ["Content-Type", "text/plain"] }, Buffer.from("no thanks"));
          return;
        }
        pending?.(ex);
      });
      rawPort = s.port;
      closeRaw = () => s.server.close(1000);
    });
    after(() => closeRaw());

    test("100 is sent only when the handler calls readBody()", async () => {
      const exchange = new Promise<Exchange>((resolve) => {
        pending = resolve;
      });
      const c = await open(rawPort);
      c.send("POST /later HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
      const ex = await exchange;
      assert.equal(await c.quietFor(300), "", "no 100 before readBody()");
      const body: Buffer[] = [];
      const done = new Promise<string[]>((resolve, reject) => {
        const sink: BodySink = {
          data: (chunk) => body.push(Buffer.from(chunk)),
          end: resolve,
          error: reject,
        };
        ex.readBody(sink);
      });
      assert.equal((await c.read()).status, 100);
      c.send("hello");
      await done;
      ex.respond({ status: 200, headers: [] }, Buffer.concat(body));
      const res = await c.read();
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), "hello");
      assert.equal(header(res, "connection"), undefined);
    });

    test("no 100 when the handler answers without reading; the response closes the connection", async () => {
      const c = await open(rawPort);
      c.send("POST /respond-now HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
      const res = await c.read();
      assert.equal(res.status, 200, "the first response is the final one, not a 100");
      assert.equal(res.body.toString(), "no thanks");
      assert.equal(header(res, "connection"), "close");
      await assertClosed(c);
    });
  });
});

describe("unread request bodies", () => {
  let rawPort: number;
  let closeRaw: () => Promise<void>;
  const MAX_DRAIN = 4096;

  before(async () => {
    // Answers at once and never reads the body.
    const s = await startRaw(
      (ex) => ex.respond({ status: 200, headers: [] }, Buffer.from(ex.request.target)),
      { maxDrainSize: MAX_DRAIN },
    );
    rawPort = s.port;
    closeRaw = () => s.server.close(1000);
  });
  after(() => closeRaw());

  test("a small unread body is drained and the next pipelined request answered", async () => {
    const c = await open(rawPort);
    c.send(
      "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789" +
        "POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n" +
        get("/c"),
    );
    const bodies = [];
    for (let i = 0; i < 3; i++) {
      const res = await c.read();
      assert.equal(res.status, 200);
      assert.equal(header(res, "connection"), undefined);
      bodies.push(res.body.toString());
    }
    assert.deepEqual(bodies, ["/a", "/b", "/c"]);
    c.send(get("/d"));
    assert.equal((await c.read()).body.toString(), "/d");
  });

  test("a body sent after the response is drained too", async () => {
    const c = await open(rawPort);
    c.send("POST /late HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n");
    assert.equal((await c.read()).body.toString(), "/late");
    c.send("abcdef");
    c.send(get("/next"));
    assert.equal((await c.read()).body.toString(), "/next");
  });

  test("an unread body larger than maxDrainSize closes the connection after the response", async () => {
    const c = await open(rawPort);
    const size = 16 * MAX_DRAIN;
    c.send(`POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: ${size}\r\n\r\n`);
    c.send(Buffer.alloc(size, 0x61));
    c.send(get("/never"));
    const res = await c.read();
    assert.equal(res.body.toString(), "/big");
    await assertClosed(c);
  });

  test("WSGI: an app that ignores wsgi.input still lets the next pipelined request through", async () => {
    const c = await open();
    c.send(post("Content-Length: 5\r\n", "hello").replace("POST /", "POST /fixed") + get("/after"));
    assert.equal((await c.read()).body.toString(), FIXED);
    assert.equal(echoOf(await c.read()).path, "/after");
    await assertStillOpen(c);
  });
});

describe("robustness", () => {
  test("a client resetting mid-request does not disturb a concurrent request", async () => {
    const errorsBefore = errors.text;
    const bad = await open();
    bad.send(post("Content-Length: 500\r\n", "only some of the body"));
    const good = await open();
    good.send(post("Content-Length: 5\r\n", "hello"));
    await sleep(50);
    bad.socket.resetAndDestroy();
    assert.equal(echoOf(await good.read()).body, "hello");
    await sleep(50);
    await assertStillOpen(good);
    assert.equal(errors.text, errorsBefore, "a reset is not an error");
  });

  test("a client resetting mid-response does not disturb a concurrent request; the result is closed", async () => {
    const errorsBefore = errors.text;
    const closedBefore = resultClosed;
    const bad = await open();
    bad.send(get("/big-stream"));
    await bad.until(() => (bad.buf.length > 0 ? true : undefined), 2000, "the first bytes");
    bad.socket.resetAndDestroy();
    const good = await open();
    good.send(get("/stream"));
    assert.equal((await good.read()).body.toString(), "abcde");
    await good.until(() => (resultClosed > closedBefore ? true : undefined), 2000, "close()");
    await assertStillOpen(good);
    assert.equal(errors.text, errorsBefore, "a reset is not an error");
  });

  test("a generator result is ended (its finally runs) when the client goes away mid-response", async () => {
    const before = generatorFinished;
    const bad = await open();
    bad.send(get("/big-generator"));
    await bad.until(() => (bad.buf.length > 0 ? true : undefined), 2000, "the first bytes");
    bad.socket.resetAndDestroy();
    await sleep(300);
    assert.equal(generatorFinished, before + 1);
  });

  test("an app that throws gets a short 500, is logged once, and the connection stays usable", async () => {
    const c = await open();
    c.send(get("/throw"));
    const res = await c.read();
    assert.equal(res.status, 500);
    assert.equal(res.body.toString(), "500 Internal Server Error\n");
    assert.equal(header(res, "connection"), undefined);
    await assertStillOpen(c);
    assert.equal(errors.text.split("boom in the app").length - 1, 1, errors.text);
    assert.match(errors.text, /GET \/throw/);
  });

  test("an app throwing mid-iteration after the head closes the connection without a last chunk", async () => {
    const c = await open();
    c.send(get("/throw-mid"));
    assert.equal(await c.closedWithin(2000), true);
    const text = c.text();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.includes("Transfer-Encoding: chunked"), text);
    assert.ok(!text.endsWith("0\r\n\r\n"), "the body must not look complete");
    assert.equal(errors.text.split("boom mid-body").length - 1, 1, errors.text);
  });
});

describe("access log", () => {
  test("one line per request with peer, method, target, status, bytes and duration", async () => {
    await sleep(10);
    const before = access.text.length;
    const c = await open();
    c.send(get("/fixed?a=1") + post("Content-Length: 2\r\n", "hi").replace("POST /", "POST /logged"));
    const local = c.socket.localPort;
    await c.read();
    const echoed = await c.read();
    c.send(get("/missing-host").replace("Host: t\r\n", ""));
    await c.read();
    await sleep(20); // lines are written once per event-loop turn
    const lines = access.text.slice(before).trimEnd().split("\n");
    assert.equal(lines.length, 3, access.text.slice(before));
    assert.match(
      lines[0]!,
      new RegExp(
        `^127\\.0\\.0\\.1:${local} - "GET /fixed\\?a=1 HTTP/1\\.1" 200 ${FIXED.length} \\d+\\.\\dms$`,
      ),
    );
    assert.match(
      lines[1]!,
      new RegExp(
        `^127\\.0\\.0\\.1:${local} - "POST /logged HTTP/1\\.1" 200 ${echoed.body.length} \\d+\\.\\dms$`,
      ),
    );
    assert.match(lines[2]!, new RegExp(`^127\\.0\\.0\\.1:${local} - "-" 400 \\d+ -$`));
  });
});
