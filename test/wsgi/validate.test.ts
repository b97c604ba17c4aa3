/**
 * `validate(app)`: a correct app passes through unchanged; each broken rule
 * of the WSGI-style contract throws a WSGIValidationError that surfaces as a
 * 500 with the rule in the log. The server-side checks are exercised by
 * calling the wrapped app directly with hand-built environs.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  BodyInput,
  type Environ,
  type StartResponse,
  validate,
  type WSGIApp,
  type WSGIErrors,
  type WSGIResult,
  WSGIValidationError,
} from "../../src/gateways/wsgi/index.ts";
import type { Server } from "../../src/server/server.ts";
import { type Capture, rawRequest, startServer } from "../helpers.ts";

/** Loose signatures for calling startResponse/write with values the types forbid. */
type LooseStart = (status: unknown, headers: unknown, excInfo?: unknown) => (data: unknown) => void;

// ---- through the server ----------------------------------------------------------

describe("validate(app) through the server", () => {
  let server: Server;
  let port: number;
  let url: string;
  let errors: Capture;
  let closes = 0;

  const routes: Record<string, (environ: Environ, startResponse: LooseStart) => unknown> = {
    "/ok": (environ, sr) => {
      const body = environ["wsgi.input"].read();
      sr("200 OK", [
        ["Content-Type", "text/plain"],
        ["X-Echo", String(body.length)],
      ]);
      return [`hello ${environ.PATH_INFO}`, Buffer.from(" bytes")];
    },
    "/ok-generator": (_e, sr) => {
      const write = sr("201 Created", [["Content-Type", "text/plain"]]);
      write("w ");
      return Object.assign(
        (function* () {
          yield "a";
          yield "";
          yield Buffer.from("b");
        })(),
        { close: () => closes++ },
      );
    },
    "/ok-excinfo": (_e, sr) => {
      sr("200 OK", []);
      sr("503 Service Unavailable", [["Retry-After", "1"]], new Error("backend"));
      return ["retry"];
    },
    "/bad-status-no-reason": (_e, sr) => {
      sr("200", []);
      return ["x"];
    },
    "/bad-status-letters": (_e, sr) => {
      sr("OK 200", []);
      return ["x"];
    },
    "/bad-status-interim": (_e, sr) => {
      sr("100 Continue", []);
      return ["x"];
    },
    "/bad-status-number": (_e, sr) => {
      sr(200, []);
      return ["x"];
    },
    "/bad-headers-object": (_e, sr) => {
      sr("200 OK", { "Content-Type": "text/plain" });
      return ["x"];
    },
    "/bad-header-not-pair": (_e, sr) => {
      sr("200 OK", [["Content-Type", "text/plain", "extra"]]);
      return ["x"];
    },
    "/bad-header-name": (_e, sr) => {
      sr("200 OK", [["Bad Name", "x"]]);
      return ["x"];
    },
    "/hop-by-hop": (_e, sr) => {
      sr("200 OK", [["Connection", "close"]]);
      return ["x"];
    },
    "/hop-by-hop-te": (_e, sr) => {
      sr("200 OK", [["transfer-encoding", "chunked"]]);
      return ["x"];
    },
    "/header-crlf": (_e, sr) => {
      sr("200 OK", [["X-Bad", "a\r\nX-Injected: yes"]]);
      return ["x"];
    },
    "/header-lf": (_e, sr) => {
      sr("200 OK", [["X-Bad", "a\nb"]]);
      return ["x"];
    },
    "/status-header": (_e, sr) => {
      sr("200 OK", [["Status", "404"]]);
      return ["x"];
    },
    "/start-twice": (_e, sr) => {
      sr("200 OK", []);
      sr("200 OK", []);
      return ["x"];
    },
    "/chunk-number": (_e, sr) => {
      sr("200 OK", []);
      return (function* () {
        yield 42;
      })();
    },
    "/chunk-in-array": (_e, sr) => {
      sr("200 OK", []);
      return ["ok", { not: "bytes" }];
    },
    "/write-number": (_e, sr) => {
      const write = sr("200 OK", []);
      write(7);
      return [];
    },
    "/return-uint8array": (_e, sr) => {
      sr("200 OK", []);
      return new Uint8Array([104, 105]);
    },
    "/return-buffer": (_e, sr) => {
      sr("200 OK", []);
      return Buffer.from("hi");
    },
    "/return-string": (_e, sr) => {
      sr("200 OK", []);
      return "a string";
    },
    "/return-null": () => null,
    "/body-before-start": () => ["too early"],
    "/body-before-start-generator": () =>
      (function* () {
        yield "too early";
      })(),
  };

  const inner = ((environ, startResponse) => {
    const route = routes[environ.PATH_INFO];
    if (route === undefined) throw new Error(`no route ${environ.PATH_INFO}`);
    return route(environ, startResponse as unknown as LooseStart) as WSGIResult;
  }) satisfies WSGIApp;

  before(async () => {
    ({ server, port, url, errors } = await startServer(validate(inner)));
  });
  after(() => server.close());

  test("a correct app passes through unchanged", async () => {
    const res = await fetch(`${url}/ok`, { method: "POST", body: "12345" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain");
    assert.equal(res.headers.get("x-echo"), "5");
    assert.equal(await res.text(), "hello /ok bytes");
  });

  test("a correct streaming app passes through, write() included, and is closed once", async () => {
    const res = await fetch(`${url}/ok-generator`);
    assert.equal(res.status, 201);
    assert.equal(await res.text(), "w ab");
    assert.equal(closes, 1);
  });

  test("a second startResponse with excInfo is allowed", async () => {
    const res = await fetch(`${url}/ok-excinfo`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal(await res.text(), "retry");
  });

  /** Requests `path` and checks for a 500 and `rule` in the newly logged text. */
  async function refused(path: string, rule: RegExp): Promise<void> {
    const before = errors.text.length;
    const res = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    assert.match(res.text, /^HTTP\/1\.1 500 /, `${path}: ${res.text}`);
    assert.ok(!res.text.includes("X-Injected"), path);
    const log = errors.text.slice(before);
    assert.match(log, rule, `${path}: ${log}`);
  }

  const cases: [string, string, RegExp][] = [
    [
      "bad status: no reason",
      "/bad-status-no-reason",
      /app: status "200" must be three digits, a space, a reason/,
    ],
    ["bad status: not digits", "/bad-status-letters", /app: status "OK 200" must be three digits/],
    ["bad status: interim 1xx", "/bad-status-interim", /app: status must be a final status/],
    ["bad status: not a string", "/bad-status-number", /app: status must be a string/],
    ["headers not an array", "/bad-headers-object", /app: headers must be an array of \[name, value\] pairs/],
    [
      "a header that is not a pair",
      "/bad-header-not-pair",
      /app: each header must be a \[name, value\] pair/,
    ],
    ["an invalid header name", "/bad-header-name", /app: header name "Bad Name" is not a valid token/],
    ["a hop-by-hop header", "/hop-by-hop", /app: hop-by-hop header Connection is the server's to set/],
    ["a hop-by-hop header in lower case", "/hop-by-hop-te", /app: hop-by-hop header transfer-encoding/],
    ["a header value with CR/LF", "/header-crlf", /app: value of header X-Bad contains CR, LF/],
    ["a header value with a bare LF", "/header-lf", /app: value of header X-Bad contains CR, LF/],
    ["a CGI Status header", "/status-header", /app: 'Status' is a CGI header/],
    ["startResponse twice", "/start-twice", /app: startResponse called a second time without excInfo/],
    [
      "yielding a non-bytes chunk",
      "/chunk-number",
      /app: each body chunk must be Uint8Array or string, got number/,
    ],
    [
      "write() of a non-bytes value",
      "/write-number",
      /app: write\(\) data must be Uint8Array or string, got number/,
    ],
    ["returning a Uint8Array", "/return-uint8array", /app: returned a Uint8Array; return \[bytes\]/],
    ["returning a Buffer", "/return-buffer", /app: returned a Uint8Array; return \[bytes\]/],
    ["returning a string", "/return-string", /app: must return an iterable of chunks/],
    ["returning null", "/return-null", /app: must return an iterable of chunks/],
    [
      "a body before startResponse",
      "/body-before-start",
      /app: yielded a body chunk before calling startResponse/,
    ],
    [
      "a generator body before startResponse",
      "/body-before-start-generator",
      /app: yielded a body chunk before calling startResponse/,
    ],
  ];
  for (const [name, path, rule] of cases) {
    test(`refuses ${name}: 500 and the rule in the log`, () => refused(path, rule));
  }

  test("a bad chunk after good ones: the response is cut off, the rule logged", async () => {
    // The wrapped result is checked chunk by chunk as it streams, so "ok" is already out.
    const before = errors.text.length;
    const res = await rawRequest(port, "GET /chunk-in-array HTTP/1.1\r\nHost: t\r\n\r\n", {
      timeoutMs: 2000,
    });
    assert.ok(res.closed);
    assert.match(res.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(!res.text.endsWith("0\r\n\r\n"), "no terminating chunk");
    assert.match(errors.text.slice(before), /app: each body chunk must be Uint8Array or string, got object/);
  });

  test("the server keeps serving after refusals", async () => {
    const res = await fetch(`${url}/ok`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "hello /ok bytes");
  });
});

// ---- called directly ---------------------------------------------------------------

const noErrors: WSGIErrors = { write() {}, writelines() {}, flush() {} };

/** An environ that passes every server-side check. */
function goodEnviron(): Environ {
  return {
    REQUEST_METHOD: "GET",
    SCRIPT_NAME: "",
    PATH_INFO: "/",
    QUERY_STRING: "",
    SERVER_NAME: "localhost",
    SERVER_PORT: "80",
    SERVER_PROTOCOL: "HTTP/1.1",
    REMOTE_ADDR: "127.0.0.1",
    REMOTE_PORT: "50000",
    RAW_URI: "/",
    "wsgi.version": [1, 0],
    "wsgi.url_scheme": "http",
    "wsgi.input": new BodyInput(new Uint8Array(0)),
    "wsgi.input_terminated": true,
    "wsgi.errors": noErrors,
    "wsgi.multithread": false,
    "wsgi.multiprocess": false,
    "wsgi.run_once": false,
    "tsgi.trailers": [],
  };
}

const helloApp: WSGIApp = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return ["hello"];
};

/** A startResponse that records its calls. */
function recorder(): { calls: unknown[][]; startResponse: StartResponse; written: unknown[] } {
  const calls: unknown[][] = [];
  const written: unknown[] = [];
  return {
    calls,
    written,
    startResponse: (...args) => {
      calls.push(args);
      return (data) => written.push(data);
    },
  };
}

describe("validate(app) called directly", () => {
  test("a good environ passes and the result is the app's chunks", () => {
    const { calls, startResponse } = recorder();
    const result = validate(helloApp)(goodEnviron(), startResponse);
    assert.deepEqual([...result], ["hello"]);
    result.close?.();
    assert.deepEqual(calls, [["200 OK", [["Content-Type", "text/plain"]], undefined]]);
  });

  const broken: [string, (env: Record<string, unknown>) => void, RegExp][] = [
    [
      "REQUEST_METHOD missing",
      (e) => delete e.REQUEST_METHOD,
      /server: environ\.REQUEST_METHOD must be a string/,
    ],
    ["SCRIPT_NAME missing", (e) => delete e.SCRIPT_NAME, /server: environ\.SCRIPT_NAME must be a string/],
    ["PATH_INFO missing", (e) => delete e.PATH_INFO, /server: environ\.PATH_INFO must be a string/],
    ["QUERY_STRING missing", (e) => delete e.QUERY_STRING, /server: environ\.QUERY_STRING must be a string/],
    ["SERVER_NAME missing", (e) => delete e.SERVER_NAME, /server: environ\.SERVER_NAME must be a string/],
    ["SERVER_PORT missing", (e) => delete e.SERVER_PORT, /server: environ\.SERVER_PORT must be a string/],
    [
      "SERVER_PROTOCOL missing",
      (e) => delete e.SERVER_PROTOCOL,
      /server: environ\.SERVER_PROTOCOL must be a string/,
    ],
    ["REQUEST_METHOD empty", (e) => (e.REQUEST_METHOD = ""), /server: REQUEST_METHOD must not be empty/],
    [
      "SCRIPT_NAME relative",
      (e) => (e.SCRIPT_NAME = "app"),
      /server: SCRIPT_NAME must be empty or start with '\/'/,
    ],
    ["PATH_INFO relative", (e) => (e.PATH_INFO = "x"), /server: PATH_INFO must be empty or start with '\/'/],
    ["both paths empty", (e) => (e.PATH_INFO = ""), /server: one of SCRIPT_NAME or PATH_INFO must be set/],
    ["SERVER_PORT not digits", (e) => (e.SERVER_PORT = "http"), /server: SERVER_PORT must be digits/],
    ["CONTENT_LENGTH not digits", (e) => (e.CONTENT_LENGTH = "-1"), /server: CONTENT_LENGTH must be digits/],
    ["wsgi.version missing", (e) => delete e["wsgi.version"], /server: wsgi\.version must be \[1, 0\]/],
    ["wsgi.version wrong", (e) => (e["wsgi.version"] = [1, 1]), /server: wsgi\.version must be \[1, 0\]/],
    [
      "wsgi.url_scheme wrong",
      (e) => (e["wsgi.url_scheme"] = "ftp"),
      /server: wsgi\.url_scheme must be http or https/,
    ],
    [
      "wsgi.input missing",
      (e) => delete e["wsgi.input"],
      /server: wsgi\.input must have read, readline, readlines/,
    ],
    [
      "wsgi.input not iterable",
      (e) => (e["wsgi.input"] = { read() {}, readline() {}, readlines() {} }),
      /wsgi\.input/,
    ],
    [
      "wsgi.errors missing",
      (e) => delete e["wsgi.errors"],
      /server: wsgi\.errors must have write, writelines and flush/,
    ],
    [
      "wsgi.multithread missing",
      (e) => delete e["wsgi.multithread"],
      /server: wsgi\.multithread must be a boolean/,
    ],
    [
      "wsgi.multiprocess a string",
      (e) => (e["wsgi.multiprocess"] = "no"),
      /server: wsgi\.multiprocess must be/,
    ],
    ["wsgi.run_once missing", (e) => delete e["wsgi.run_once"], /server: wsgi\.run_once must be a boolean/],
    [
      "an HTTP_* value not a string",
      (e) => (e.HTTP_ACCEPT = ["a", "b"]),
      /server: environ\.HTTP_ACCEPT must be a string/,
    ],
    [
      "HTTP_CONTENT_TYPE set",
      (e) => (e.HTTP_CONTENT_TYPE = "text/plain"),
      /server: Content-Type belongs in CONTENT_TYPE/,
    ],
    [
      "HTTP_CONTENT_LENGTH set",
      (e) => (e.HTTP_CONTENT_LENGTH = "3"),
      /server: Content-Length belongs in CONTENT_LENGTH/,
    ],
  ];
  for (const [name, mutate, rule] of broken) {
    test(`server-side check: ${name}`, () => {
      const env = goodEnviron() as unknown as Record<string, unknown>;
      mutate(env);
      let called = false;
      const app: WSGIApp = (e, sr) => {
        called = true;
        return helloApp(e, sr);
      };
      assert.throws(
        () => validate(app)(env as unknown as Environ, recorder().startResponse),
        (err: unknown) => err instanceof WSGIValidationError && rule.test(err.message),
      );
      assert.equal(called, false, "the app is not called with a broken environ");
    });
  }

  test("a hand-built empty environ is refused before the app runs", () => {
    assert.throws(
      () => validate(helloApp)({} as Environ, recorder().startResponse),
      (err: unknown) =>
        err instanceof WSGIValidationError &&
        err.name === "WSGIValidationError" &&
        err.code === "TSGI_ERR_WSGI_VALIDATION" &&
        /REQUEST_METHOD/.test(err.message),
    );
  });

  test("the server must not close the result twice or iterate it after close()", () => {
    const { startResponse } = recorder();
    let innerCloses = 0;
    const app: WSGIApp = (_e, sr) => {
      sr("200 OK", []);
      return Object.assign(["a", "b"], { close: () => innerCloses++ });
    };
    const result = validate(app)(goodEnviron(), startResponse);
    result.close?.();
    assert.equal(innerCloses, 1);
    assert.throws(() => result.close?.(), /server: called close\(\) twice/);
    assert.throws(() => [...result], /server: iterated the result after close\(\)/);
  });

  test("an app error is passed through, not wrapped", () => {
    const app: WSGIApp = () => {
      throw new RangeError("the app's own");
    };
    assert.throws(() => validate(app)(goodEnviron(), recorder().startResponse), RangeError);
  });

  test("write() calls reach the server's write with the data unchanged", () => {
    const { written, startResponse } = recorder();
    const app: WSGIApp = (_e, sr) => {
      const write = sr("200 OK", []);
      write("a");
      write(Buffer.from("b"));
      return [];
    };
    assert.deepEqual([...validate(app)(goodEnviron(), startResponse)], []);
    assert.deepEqual(written, ["a", Buffer.from("b")]);
  });
});
