/**
 * The WSGI-style gateway over real sockets: the environ it builds, wsgi.input
 * and wsgi.errors, startResponse/write, the result's lifecycle (close()),
 * and how contract violations and app errors turn into 500s.
 */

import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Environ, StartResponse, WSGIApp, WSGIResult } from "../../src/gateways/wsgi/index.ts";
import type { Server } from "../../src/server/server.ts";
import { type Capture, openSocket, rawRequest, startServer } from "../helpers.ts";

// ---- helpers ----------------------------------------------------------------

/** Errors that escaped into the process: in production each would crash the server. */
const uncaught: unknown[] = [];
process.on("uncaughtException", (err) => uncaught.push(err));

interface Parsed {
  status: number;
  headers: Map<string, string[]>;
  body: Buffer;
}

/** Parses one HTTP/1.1 response (Content-Length, chunked, or until close). */
function parseResponse(data: Buffer): Parsed {
  const end = data.indexOf("\r\n\r\n");
  assert.notEqual(end, -1, `no complete response head in ${JSON.stringify(data.toString("latin1"))}`);
  const lines = data.toString("latin1", 0, end).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)![1]);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  let rest = data.subarray(end + 4);
  let body: Buffer;
  const length = headers.get("content-length");
  if (length !== undefined) body = rest.subarray(0, Number(length[0]));
  else if (headers.get("transfer-encoding")?.[0] === "chunked") {
    const parts: Buffer[] = [];
    for (;;) {
      const lf = rest.indexOf("\r\n");
      if (lf === -1) break;
      const size = Number.parseInt(rest.toString("latin1", 0, lf), 16);
      if (size === 0 || Number.isNaN(size)) break;
      parts.push(rest.subarray(lf + 2, lf + 2 + size));
      rest = rest.subarray(lf + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else body = rest;
  return { status, headers, body };
}

/** Sends raw bytes on a fresh connection and parses the response. */
async function raw(port: number, bytes: string | Uint8Array): Promise<Parsed & { text: string }> {
  const result = await rawRequest(port, bytes, { timeoutMs: 300 });
  return { ...parseResponse(result.data), text: result.text };
}

/** GET `target` with extra header lines, closing the connection after. */
function get(target: string, headerLines: string[] = ["Host: test"]): string {
  return `GET ${target} HTTP/1.1\r\n${headerLines.map((h) => `${h}\r\n`).join("")}Connection: close\r\n\r\n`;
}

/** Resolves once `predicate` holds, polling every few ms; rejects after `ms`. */
async function waitFor(predicate: () => boolean, what: string, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** How many times `needle` occurs in `text`. */
function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

// ---- environ ----------------------------------------------------------------

/** Answers with the environ's plain values (and the body) as JSON. */
const dumpApp: WSGIApp = (environ, startResponse) => {
  const body = environ["wsgi.input"].read();
  const out: Record<string, unknown> = { $body: Buffer.from(body).toString("latin1") };
  for (const [key, value] of Object.entries(environ)) {
    if (typeof value === "string" || typeof value === "boolean" || Array.isArray(value)) out[key] = value;
  }
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify(out)];
};

describe("environ", () => {
  let server: Server;
  let port: number;
  before(async () => {
    ({ server, port } = await startServer(dumpApp));
  });
  after(() => server.close());

  async function environOf(bytes: string | Uint8Array): Promise<Record<string, unknown>> {
    const res = await raw(port, bytes);
    assert.equal(res.status, 200, res.text);
    return JSON.parse(res.body.toString("utf8")) as Record<string, unknown>;
  }

  test("CGI variables and wsgi.* keys of a plain GET (via fetch)", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/a/b?x=1&y=%20`);
    assert.equal(res.status, 200);
    const env = (await res.json()) as Record<string, unknown>;
    assert.equal(env.REQUEST_METHOD, "GET");
    assert.equal(env.SCRIPT_NAME, "");
    assert.equal(env.PATH_INFO, "/a/b");
    assert.equal(env.QUERY_STRING, "x=1&y=%20");
    assert.equal(env.RAW_URI, "/a/b?x=1&y=%20");
    assert.equal(env.SERVER_PROTOCOL, "HTTP/1.1");
    assert.equal(env.SERVER_NAME, "127.0.0.1");
    assert.equal(env.SERVER_PORT, String(port));
    assert.equal(env.REMOTE_ADDR, "127.0.0.1");
    assert.match(String(env.REMOTE_PORT), /^[1-9][0-9]*$/);
    assert.deepEqual(env["wsgi.version"], [1, 0]);
    assert.equal(env["wsgi.url_scheme"], "http");
    assert.equal(env["wsgi.multithread"], false);
    assert.equal(env["wsgi.multiprocess"], false);
    assert.equal(env["wsgi.run_once"], false);
    assert.equal(env["wsgi.input_terminated"], true);
    assert.ok(!("CONTENT_TYPE" in env), "no CONTENT_TYPE without a Content-Type field");
    assert.ok(!("CONTENT_LENGTH" in env), "no CONTENT_LENGTH without a body");
    assert.equal(env.$body, "");
  });

  test("wsgi.input and wsgi.errors are objects with the PEP 3333 methods", async () => {
    let seen: Environ | null = null;
    const { server: s, url } = await startServer(((environ, startResponse) => {
      seen = environ;
      startResponse("204 No Content", []);
      return [];
    }) satisfies WSGIApp);
    try {
      assert.equal((await fetch(url)).status, 204);
      const env = seen as unknown as Environ;
      for (const m of ["read", "readline", "readlines"] as const)
        assert.equal(typeof env["wsgi.input"][m], "function");
      assert.equal(typeof env["wsgi.input"][Symbol.iterator], "function");
      for (const m of ["write", "writelines", "flush"] as const)
        assert.equal(typeof env["wsgi.errors"][m], "function");
      assert.deepEqual(env["tsgi.trailers"], []);
    } finally {
      await s.close();
    }
  });

  test("REMOTE_ADDR/REMOTE_PORT are the client's socket address", async () => {
    const socket: Socket = await openSocket(port);
    const { localAddress, localPort } = socket;
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    const closed = new Promise((r) => socket.on("close", r));
    socket.write(get("/"));
    await closed;
    const env = JSON.parse(parseResponse(Buffer.concat(chunks)).body.toString("utf8"));
    assert.equal(env.REMOTE_ADDR, localAddress);
    assert.equal(env.REMOTE_PORT, String(localPort));
  });

  test("PATH_INFO is percent-decoded to bytes shown as latin-1; bad escapes stay", async () => {
    const env = await environOf(get("/a%2Fb/%C3%A9/%zz/%4/100%25/%41%62?q=%2F%C3%A9"));
    assert.equal(env.PATH_INFO, "/a/b/\u00c3\u00a9/%zz/%4/100%/Ab");
    assert.equal(
      Buffer.from(env.PATH_INFO as string, "latin1").toString("utf8"),
      "/a/b/é/%zz/%4/100%/Ab",
      "the latin-1 string carries the UTF-8 bytes",
    );
    assert.equal(env.QUERY_STRING, "q=%2F%C3%A9", "the query string is not decoded");
    assert.equal(env.RAW_URI, "/a%2Fb/%C3%A9/%zz/%4/100%25/%41%62?q=%2F%C3%A9");
  });

  test("a truncated escape at the end of the path stays as sent", async () => {
    assert.equal((await environOf(get("/x%"))).PATH_INFO, "/x%");
    assert.equal((await environOf(get("/x%4"))).PATH_INFO, "/x%4");
    assert.equal((await environOf(get("/x%41"))).PATH_INFO, "/xA");
  });

  test("no query string gives QUERY_STRING ''; an empty one too", async () => {
    assert.equal((await environOf(get("/p"))).QUERY_STRING, "");
    const env = await environOf(get("/p?"));
    assert.equal(env.QUERY_STRING, "");
    assert.equal(env.RAW_URI, "/p?");
  });

  test("CONTENT_TYPE and CONTENT_LENGTH come from the fields, never as HTTP_*", async () => {
    const env = await environOf(
      "POST /form HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain; charset=utf-8\r\n" +
        "Content-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert.equal(env.REQUEST_METHOD, "POST");
    assert.equal(env.CONTENT_TYPE, "text/plain; charset=utf-8");
    assert.equal(env.CONTENT_LENGTH, "5");
    assert.equal(env.$body, "hello");
    assert.ok(!("HTTP_CONTENT_TYPE" in env));
    assert.ok(!("HTTP_CONTENT_LENGTH" in env));
  });

  test("Content-Length: 0 is passed on as CONTENT_LENGTH '0'", async () => {
    const env = await environOf(
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert.equal(env.CONTENT_LENGTH, "0");
    assert.equal(env.$body, "");
  });

  test("a chunked body is read whole and CONTENT_LENGTH set to its length", async () => {
    const env = await environOf(
      "POST /up HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    assert.equal(env.CONTENT_LENGTH, "11");
    assert.equal(env.$body, "hello world");
    assert.ok(!("HTTP_CONTENT_LENGTH" in env));
  });

  test("a chunked body sent in pieces arrives whole", async () => {
    const head = "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    const res = await rawRequest(port, [head, "3\r\nabc\r\n", "4\r\ndefg\r\n", "0\r\n\r\n"]);
    const env = JSON.parse(parseResponse(res.data).body.toString("utf8"));
    assert.equal(env.$body, "abcdefg");
    assert.equal(env.CONTENT_LENGTH, "7");
  });

  test("SERVER_NAME/SERVER_PORT come from Host, with port 80 by default", async () => {
    let env = await environOf(get("/", ["Host: example.com:8080"]));
    assert.equal(env.SERVER_NAME, "example.com");
    assert.equal(env.SERVER_PORT, "8080");
    env = await environOf(get("/", ["Host: example.com"]));
    assert.equal(env.SERVER_NAME, "example.com");
    assert.equal(env.SERVER_PORT, "80");
    assert.equal(env.HTTP_HOST, "example.com");
  });

  test("an IPv6 literal Host keeps its brackets; its port is split off", async () => {
    let env = await environOf(get("/", ["Host: [::1]:9000"]));
    assert.equal(env.SERVER_NAME, "[::1]");
    assert.equal(env.SERVER_PORT, "9000");
    env = await environOf(get("/", ["Host: [2001:db8::1]"]));
    assert.equal(env.SERVER_NAME, "[2001:db8::1]");
    assert.equal(env.SERVER_PORT, "80");
  });

  test("an absolute-form target overrides Host (RFC 9112 §3.2.2)", async () => {
    let env = await environOf(get("http://other.test:81/p%41th?q=1", ["Host: example.com"]));
    assert.equal(env.SERVER_NAME, "other.test");
    assert.equal(env.SERVER_PORT, "81");
    assert.equal(env.PATH_INFO, "/pAth");
    assert.equal(env.QUERY_STRING, "q=1");
    assert.equal(env.RAW_URI, "http://other.test:81/p%41th?q=1");
    assert.equal(env.HTTP_HOST, "example.com");
    env = await environOf(get("http://user@other.test", ["Host: example.com"]));
    assert.equal(env.SERVER_NAME, "other.test");
    assert.equal(env.SERVER_PORT, "80");
    assert.equal(env.PATH_INFO, "/");
  });

  test("HTTP/1.0 without Host: SERVER_NAME/PORT are the listening address", async () => {
    const env = await environOf("GET /old HTTP/1.0\r\n\r\n");
    assert.equal(env.SERVER_PROTOCOL, "HTTP/1.0");
    assert.equal(env.SERVER_NAME, "127.0.0.1");
    assert.equal(env.SERVER_PORT, String(port));
    assert.ok(!("HTTP_HOST" in env));
  });

  test("other headers become HTTP_*; repeats joined with ',' and Cookie with '; '", async () => {
    const env = await environOf(
      get("/", [
        "Host: test",
        "X-Custom-Thing: a b",
        "Accept: text/html",
        "accept: application/json",
        "Cookie: a=1",
        "Cookie: b=2",
        "User-Agent: t/1",
      ]),
    );
    assert.equal(env.HTTP_X_CUSTOM_THING, "a b");
    assert.equal(env.HTTP_ACCEPT, "text/html,application/json");
    assert.equal(env.HTTP_COOKIE, "a=1; b=2");
    assert.equal(env.HTTP_USER_AGENT, "t/1");
    assert.equal(env.HTTP_CONNECTION, "close");
  });

  test("header names with '_' are dropped so they cannot spoof their '-' twin", async () => {
    const env = await environOf(
      get("/", ["Host: test", "X_Forwarded_For: 6.6.6.6", "X-Forwarded-For: 1.2.3.4", "X_Only: z"]),
    );
    assert.equal(env.HTTP_X_FORWARDED_FOR, "1.2.3.4");
    assert.ok(!("HTTP_X_ONLY" in env));
    assert.ok(!Object.values(env).includes("6.6.6.6"));
  });

  test("header values keep non-ASCII bytes as latin-1", async () => {
    const bytes = Buffer.concat([
      Buffer.from("GET / HTTP/1.1\r\nHost: t\r\nX-Name: caf"),
      Buffer.from("é", "utf8"),
      Buffer.from("\r\nConnection: close\r\n\r\n"),
    ]);
    const env = await environOf(bytes);
    assert.equal(env.HTTP_X_NAME, "caf\u00c3\u00a9");
  });

  test("chunked trailers are in tsgi.trailers", async () => {
    const env = await environOf(
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
        "2\r\nhi\r\n0\r\nX-Checksum: abc\r\n\r\n",
    );
    assert.deepEqual(env["tsgi.trailers"], [["X-Checksum", "abc"]]);
    assert.equal(env.$body, "hi");
  });
});

// ---- wsgi.input ---------------------------------------------------------------

const text = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/** Runs the read sequence named by PATH_INFO and answers with the results as JSON. */
const inputApp: WSGIApp = (environ, startResponse) => {
  const input = environ["wsgi.input"];
  let out: unknown;
  switch (environ.PATH_INFO) {
    case "/read":
      out = [text(input.read()), text(input.read()), text(input.read(5))];
      break;
    case "/readn":
      out = [text(input.read(3)), text(input.read(0)), text(input.read(3)), text(input.read(1000))];
      out = [...(out as string[]), text(input.read(1)), text(input.read(-1)), text(input.read(null))];
      break;
    case "/readline":
      out = [];
      for (let i = 0; i < 5; i++) (out as string[]).push(text(input.readline()));
      break;
    case "/readline-n":
      out = [
        text(input.readline(2)),
        text(input.readline(100)),
        text(input.readline(0)),
        text(input.readline(-1)),
        text(input.readline(6)),
        text(input.readline(null)),
        text(input.readline(3)),
      ];
      break;
    case "/readlines":
      out = [input.readlines().map(text), input.readlines().map(text)];
      break;
    case "/readlines-hint":
      out = [input.readlines(7).map(text), input.readlines().map(text)];
      break;
    case "/iterate":
      out = [[...input].map(text), [...input].map(text)];
      break;
    case "/mixed":
      out = [text(input.read(2)), text(input.readline()), [...input].map(text), text(input.read())];
      break;
    default:
      out = null;
  }
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify(out)];
};

describe("wsgi.input", () => {
  let server: Server;
  let url: string;
  before(async () => {
    ({ server, url } = await startServer(inputApp));
  });
  after(() => server.close());

  const BODY = "line1\nline2\nline3 no newline";
  async function run(path: string, body = BODY): Promise<unknown> {
    const res = await fetch(url + path, { method: "POST", body });
    assert.equal(res.status, 200);
    return res.json();
  }

  test("read() returns everything, then empty", async () => {
    assert.deepEqual(await run("/read"), [BODY, "", ""]);
  });

  test("read(n) returns up to n bytes; negative or null means all; empty past the end", async () => {
    assert.deepEqual(await run("/readn", "abcdefghij"), ["abc", "", "def", "ghij", "", "", ""]);
    assert.deepEqual(await run("/readn", "abcdefghij".repeat(3)).then((r) => (r as string[])[5]), "");
  });

  test("readline() returns lines with their newline; the last may lack it", async () => {
    assert.deepEqual(await run("/readline"), ["line1\n", "line2\n", "line3 no newline", "", ""]);
  });

  test("readline(n) stops after n bytes; the line continues on the next call", async () => {
    assert.deepEqual(await run("/readline-n"), ["li", "ne1\n", "", "line2\n", "line3 ", "no newline", ""]);
  });

  test("readlines() returns all lines, then none; a hint stops early", async () => {
    assert.deepEqual(await run("/readlines"), [["line1\n", "line2\n", "line3 no newline"], []]);
    assert.deepEqual(await run("/readlines-hint"), [["line1\n", "line2\n"], ["line3 no newline"]]);
  });

  test("iterating yields the lines once", async () => {
    assert.deepEqual(await run("/iterate"), [["line1\n", "line2\n", "line3 no newline"], []]);
  });

  test("reads mix and share one position", async () => {
    assert.deepEqual(await run("/mixed"), ["li", "ne1\n", ["line2\n", "line3 no newline"], ""]);
  });

  test("a request without a body reads as empty", async () => {
    const res = await fetch(`${url}/readlines`);
    assert.deepEqual(await res.json(), [[], []]);
  });

  test("binary bodies arrive byte for byte", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const { server: s, url: u } = await startServer(((environ, startResponse) => {
      const body = environ["wsgi.input"].read();
      startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
      return [body];
    }) satisfies WSGIApp);
    try {
      const res = await fetch(u, { method: "PUT", body: bytes });
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
    } finally {
      await s.close();
    }
  });
});

// ---- wsgi.errors ----------------------------------------------------------------

test("wsgi.errors: lines reach the error log, one entry per line", async () => {
  const { server, url, errors } = await startServer(((environ, startResponse) => {
    const err = environ["wsgi.errors"];
    err.write("first line\nsecond ");
    err.write("part\n");
    err.writelines(["a\n", "b\n"]);
    err.write("tail");
    err.flush();
    err.flush();
    startResponse("200 OK", []);
    return ["ok"];
  }) satisfies WSGIApp);
  try {
    assert.equal(await (await fetch(url)).text(), "ok");
    assert.equal(
      errors.text,
      "ERROR: first line\nERROR: second part\nERROR: a\nERROR: b\nERROR: tail\n",
      "flush() writes a pending partial line once",
    );
  } finally {
    await server.close();
  }
});

// ---- startResponse, write, result lifecycle, errors ------------------------------

/** A result that records how it was used. */
class Tracked implements Iterable<Uint8Array | string> {
  closes = 0;
  nexts = 0;
  constructor(private readonly produce: (i: number) => Uint8Array | string | null) {}
  [Symbol.iterator](): Iterator<Uint8Array | string> {
    let i = 0;
    return {
      next: () => {
        this.nexts++;
        const value = this.produce(i++);
        return value === null ? { done: true, value: undefined } : { done: false, value };
      },
    };
  }
  close(): void {
    this.closes++;
  }
}

describe("startResponse, write and the result", () => {
  let server: Server;
  let port: number;
  let url: string;
  let errors: Capture;
  const tracked = new Map<string, Tracked>();
  const routes: Record<string, (environ: Environ, startResponse: StartResponse) => unknown> = {
    "/ok": (_e, sr) => {
      sr("200 OK", [["Content-Type", "text/plain"]]);
      return ["fine"];
    },
    "/write-then-iterable": (_e, sr) => {
      const write = sr("200 OK", [["Content-Type", "text/plain"]]);
      write("A");
      write(Buffer.from("B"));
      write("");
      return ["C", Buffer.from("D")];
    },
    "/write-then-generator": (_e, sr) => {
      const write = sr("200 OK", []);
      write("1");
      return (function* () {
        yield "2";
        yield "";
        yield "3";
      })();
    },
    "/generator": (_e, sr) => {
      sr("201 Created", [["X-App", "yes"]]);
      return (function* () {
        yield "x";
        yield Buffer.from("y");
        yield "z";
      })();
    },
    "/empty-generator": (_e, sr) => {
      sr("200 OK", [["X-App", "yes"]]);
      return (function* () {
        yield "";
        yield "";
      })();
    },
    "/empty-then-raise": (_e, sr) => {
      sr("200 OK", [["X-Should-Not", "appear"]]);
      return (function* () {
        yield "";
        yield new Uint8Array(0);
        throw new Error("raised after empty chunks");
      })();
    },
    "/late-status-change": (_e, sr) => {
      sr("200 OK", [["X-First", "1"]]);
      return (function* () {
        yield "";
        try {
          throw new Error("backend down");
        } catch (err) {
          sr("503 Service Unavailable", [["X-Second", "1"]], err);
          yield "sorry";
        }
      })();
    },
    "/start-twice": (_e, sr) => {
      sr("200 OK", []);
      sr("201 Created", []);
      return ["never"];
    },
    "/excinfo-before-head": (_e, sr) => {
      sr("200 OK", [["X-First", "1"]]);
      sr("502 Bad Gateway", [["X-Second", "1"]], new Error("upstream"));
      return ["replaced"];
    },
    "/excinfo-after-head": (_e, sr) => {
      const write = sr("200 OK", [["Content-Type", "text/plain"]]);
      write("partial ");
      try {
        throw new Error("failed after the head went out");
      } catch (err) {
        sr("500 Internal Server Error", [], err);
      }
      return ["not reached"];
    },
    "/excinfo-after-head-in-generator": (_e, sr) => {
      sr("200 OK", []);
      return (function* () {
        yield "first ";
        try {
          throw new Error("generator failed mid-body");
        } catch (err) {
          sr("500 Internal Server Error", [], err);
        }
        yield "not reached";
      })();
    },
    "/close-success": (_e, sr) => {
      sr("200 OK", []);
      const t = new Tracked((i) => (i < 3 ? `c${i}` : null));
      tracked.set("success", t);
      return t;
    },
    "/close-array": (_e, sr) => {
      sr("200 OK", []);
      const t = new Tracked(() => null);
      tracked.set("array", t);
      return Object.assign(["arr"], { close: () => t.close() });
    },
    "/close-error": (_e, sr) => {
      sr("200 OK", []);
      const t = new Tracked((i) => {
        if (i === 0) return "before error ";
        throw new Error("iteration failed");
      });
      tracked.set("error", t);
      return t;
    },
    "/close-app-error-before-head": (_e, sr) => {
      sr("200 OK", []);
      const t = new Tracked(() => {
        throw new Error("first next() failed");
      });
      tracked.set("error-before-head", t);
      return t;
    },
    "/close-disconnect": (_e, sr) => {
      sr("200 OK", [["Content-Type", "application/octet-stream"]]);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const t = new Tracked((i) => (i < 10_000 ? chunk : null)); // 640 MB: never finishes on its own
      tracked.set("disconnect", t);
      return t;
    },
    "/close-throws": (_e, sr) => {
      sr("200 OK", []);
      return {
        *[Symbol.iterator]() {
          yield "body";
        },
        close() {
          throw new Error("close failed");
        },
      };
    },
    "/utf8": (_e, sr) => {
      sr("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
      return ["héllo ", "€ 😀"];
    },
    "/utf8-generator": (_e, sr) => {
      sr("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
      return (function* () {
        yield "é";
        yield "😀";
      })();
    },
    "/buffer": (_e, sr) => {
      sr("200 OK", []);
      return Buffer.from("not wrapped");
    },
    "/promise": async (_e, sr) => {
      sr("200 OK", []);
      return ["async"];
    },
    "/not-iterable": (_e, sr) => {
      sr("200 OK", []);
      return { body: "x" };
    },
    "/null-chunk": (_e, sr) => {
      sr("200 OK", []);
      return ["a", null];
    },
    "/status-no-reason": (_e, sr) => {
      sr("200", []);
      return ["x"];
    },
    "/status-not-string": (_e, sr) => {
      (sr as (s: unknown, h: unknown) => void)(200, []);
      return ["x"];
    },
    "/header-injection": (_e, sr) => {
      sr("200 OK", [
        ["X-Ok", "1"],
        ["X-Bad", "a\r\nX-Injected: yes"],
      ]);
      return ["x"];
    },
    "/header-injection-write": (_e, sr) => {
      const write = sr("200 OK", [["X-Bad", "a\r\nX-Injected: yes"]]);
      write("x");
      return [];
    },
    "/header-injection-generator": (_e, sr) => {
      sr("200 OK", [["X-Bad", "a\nX-Injected: yes"]]);
      return (function* () {
        yield "x";
      })();
    },
    "/header-name-injection": (_e, sr) => {
      sr("200 OK", [["X-Injected: yes\r\nX-A", "1"]]);
      return ["x"];
    },
    "/reason-injection": (_e, sr) => {
      sr("200 OK\r\nX-Injected: yes", []);
      return ["x"];
    },
    "/header-not-pair": (_e, sr) => {
      (sr as (s: string, h: unknown) => void)("200 OK", [["X-A"]]);
      return ["x"];
    },
    "/raise": () => {
      throw new Error("the app exploded");
    },
    "/body-before-start": () => ["x"],
    "/no-start-response": () =>
      (function* () {
        yield "";
      })(),
  };
  const app = ((environ, startResponse) => {
    const route = routes[environ.PATH_INFO];
    if (route === undefined) {
      startResponse("404 Not Found", []);
      return ["no route"];
    }
    return route(environ, startResponse) as WSGIResult;
  }) satisfies WSGIApp;

  before(async () => {
    ({ server, port, url, errors } = await startServer(app));
  });
  after(() => server.close());

  test("write() output precedes the iterable's; empty writes are ignored", async () => {
    const res = await fetch(`${url}/write-then-iterable`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ABCD");
    const res2 = await fetch(`${url}/write-then-generator`);
    assert.equal(await res2.text(), "123");
  });

  test("a generator result streams chunked with the app's status and headers", async () => {
    const res = await raw(port, get("/generator"));
    assert.equal(res.status, 201);
    assert.deepEqual(res.headers.get("x-app"), ["yes"]);
    assert.deepEqual(res.headers.get("transfer-encoding"), ["chunked"]);
    assert.equal(res.body.toString(), "xyz");
  });

  test("a result of only empty chunks still sends the head, with an empty body", async () => {
    const res = await raw(port, get("/empty-generator"));
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers.get("x-app"), ["yes"]);
    assert.equal(res.body.length, 0);
  });

  test("the head waits for the first non-empty chunk: raising after empty chunks gives a 500", async () => {
    const res = await raw(port, get("/empty-then-raise"));
    assert.equal(res.status, 500);
    assert.equal(res.headers.get("x-should-not"), undefined);
    assert.match(errors.text, /raised after empty chunks/);
  });

  test("before the head is out, startResponse with excInfo can change the status", async () => {
    const res = await raw(port, get("/late-status-change"));
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-first"), undefined);
    assert.deepEqual(res.headers.get("x-second"), ["1"]);
    assert.equal(res.body.toString(), "sorry");
  });

  test("startResponse twice without excInfo is a 500", async () => {
    const res = await raw(port, get("/start-twice"));
    assert.equal(res.status, 500);
    assert.match(errors.text, /startResponse\(\) called a second time without excInfo/);
  });

  test("startResponse again with excInfo before the head is sent: the second status wins", async () => {
    const res = await raw(port, get("/excinfo-before-head"));
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-first"), undefined);
    assert.deepEqual(res.headers.get("x-second"), ["1"]);
    assert.equal(res.body.toString(), "replaced");
  });

  test("startResponse with excInfo after the head is sent re-throws; the connection closes", async () => {
    for (const path of ["/excinfo-after-head", "/excinfo-after-head-in-generator"]) {
      const before = errors.text.length;
      const res = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`, { timeoutMs: 2000 });
      assert.ok(res.closed, `${path}: connection closed`);
      assert.match(res.text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(!res.text.includes("0\r\n\r\n"), `${path}: no terminating chunk`);
      assert.ok(!res.text.includes("not reached"));
      assert.ok(!res.text.includes("HTTP/1.1 500"), `${path}: no second response`);
      assert.match(errors.text.slice(before), /failed after the head went out|generator failed mid-body/);
    }
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(uncaught, [], "nothing escaped from the connection's socket handlers");
  });

  test("close() is called exactly once after a successful response", async () => {
    const res = await fetch(`${url}/close-success`);
    assert.equal(await res.text(), "c0c1c2");
    const t = tracked.get("success")!;
    assert.equal(t.closes, 1);
    const res2 = await fetch(`${url}/close-array`);
    assert.equal(await res2.text(), "arr");
    assert.equal(tracked.get("array")!.closes, 1);
  });

  test("close() is called exactly once when iteration fails mid-body", async () => {
    const res = await rawRequest(port, get("/close-error"), { timeoutMs: 2000 });
    assert.ok(res.closed);
    assert.match(res.text, /^HTTP\/1\.1 200 OK/);
    assert.match(res.text, /before error/);
    assert.equal(tracked.get("error")!.closes, 1);
    assert.match(errors.text, /iteration failed/);

    const res2 = await raw(port, get("/close-app-error-before-head"));
    assert.equal(res2.status, 500);
    assert.equal(tracked.get("error-before-head")!.closes, 1);
  });

  test("close() is called exactly once when the client disconnects mid-stream", async () => {
    const socket = await openSocket(port);
    let received = 0;
    const gotData = new Promise<void>((resolve) =>
      socket.on("data", (chunk: Buffer) => {
        received += chunk.length;
        resolve();
      }),
    );
    socket.on("error", () => {});
    socket.write(get("/close-disconnect"));
    await gotData;
    socket.destroy();
    await waitFor(() => tracked.get("disconnect")?.closes === 1, "close() after disconnect");
    const t = tracked.get("disconnect")!;
    const nexts = t.nexts;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(t.closes, 1);
    assert.equal(t.nexts, nexts, "iteration stopped");
    assert.ok(nexts < 10_000, "the result was not iterated to its end");
    assert.ok(received > 0);
  });

  test("an error thrown by close() is logged and does not break the server", async () => {
    await rawRequest(port, get("/close-throws"), { timeoutMs: 2000 });
    assert.match(errors.text, /close failed/);
    assert.equal((await fetch(`${url}/ok`)).status, 200);
  });

  test("a close() that throws after the whole body was produced still completes the response", async () => {
    const res = await rawRequest(port, get("/close-throws"), { timeoutMs: 2000 });
    assert.match(res.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(res.text.endsWith("\r\n4\r\nbody\r\n0\r\n\r\n"), JSON.stringify(res.text));
  });

  test("string chunks are sent UTF-8 encoded", async () => {
    const res = await raw(port, get("/utf8"));
    const expected = Buffer.from("héllo € 😀", "utf8");
    assert.deepEqual(res.body, expected);
    assert.deepEqual(res.headers.get("content-length"), [String(expected.length)]);
    const res2 = await raw(port, get("/utf8-generator"));
    assert.deepEqual(res2.body, Buffer.from("é😀", "utf8"));
  });

  test("returning a Buffer instead of [buffer] is a 500 with a clear message", async () => {
    const res = await raw(port, get("/buffer"));
    assert.equal(res.status, 500);
    assert.match(errors.text, /did the app return a Buffer instead of \[buffer\]\?/);
  });

  test("returning a Promise (an async app) is a 500 whose log mentions async", async () => {
    const res = await raw(port, get("/promise"));
    assert.equal(res.status, 500);
    assert.match(errors.text, /returned a Promise.*async/);
  });

  test("a non-iterable result or a null chunk is a 500", async () => {
    assert.equal((await raw(port, get("/not-iterable"))).status, 500);
    assert.match(errors.text, /must return an iterable of body chunks/);
    assert.equal((await raw(port, get("/null-chunk"))).status, 500);
    assert.match(errors.text, /got null/);
  });

  test("an invalid status is a 500", async () => {
    const res = await raw(port, get("/status-no-reason"));
    assert.equal(res.status, 500);
    assert.match(errors.text, /invalid status "200"/);
    assert.equal((await raw(port, get("/status-not-string"))).status, 500);
    assert.match(errors.text, /status must be a string/);
    assert.equal((await raw(port, get("/header-not-pair"))).status, 500);
    assert.match(errors.text, /each header must be a \[name, value\] pair of strings/);
  });

  test("header injection with CR/LF is a 500 and the injected header is not sent", async () => {
    for (const path of [
      "/header-injection",
      "/header-injection-write",
      "/header-injection-generator",
      "/header-name-injection",
      "/reason-injection",
    ]) {
      const res = await raw(port, get(path));
      assert.equal(res.status, 500, path);
      assert.doesNotMatch(res.text, /X-Injected/i, path);
      assert.equal(res.headers.get("x-ok"), undefined, path);
      assert.equal(res.body.toString(), "500 Internal Server Error\n", path);
    }
  });

  test("an app exception is a short 500 without stack trace, logged once", async () => {
    const before = errors.text.length;
    const res = await raw(port, get("/raise"));
    assert.equal(res.status, 500);
    assert.equal(res.body.toString(), "500 Internal Server Error\n");
    assert.doesNotMatch(res.text, /exploded|at /);
    const log = errors.text.slice(before);
    assert.equal(count(log, "the app exploded"), 1, log);
    assert.match(log, /^ERROR: error while handling GET \/raise: the app exploded\n$/);
  });

  test("a body before startResponse is a 500", async () => {
    assert.equal((await raw(port, get("/body-before-start"))).status, 500);
    assert.match(errors.text, /body before calling startResponse/);
    assert.equal((await raw(port, get("/no-start-response"))).status, 500);
  });

  test("a failed request leaves other requests on the server unaffected", async () => {
    // Keep-alive: the 500 and the next request share a connection.
    const res = await rawRequest(
      port,
      "GET /raise HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
      { timeoutMs: 2000 },
    );
    assert.deepEqual(
      [...res.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]),
      ["500", "200"],
    );
    assert.ok(res.text.endsWith("fine"));
    const results = await Promise.all([
      fetch(`${url}/raise`).then((r) => r.status),
      fetch(`${url}/ok`).then((r) => r.status),
      fetch(`${url}/buffer`).then((r) => r.status),
      fetch(`${url}/ok`).then((r) => r.status),
    ]);
    assert.deepEqual(results, [500, 200, 500, 200]);
  });
});

test("no error escaped into the process during these tests", async () => {
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(uncaught, []);
});

test("an exception is logged with its stack trace only at debug level", async () => {
  const { server, url, errors } = await startServer(
    (() => {
      throw new Error("debug me");
    }) satisfies WSGIApp,
    { logLevel: "debug" },
  );
  try {
    const res = await fetch(url);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), "500 Internal Server Error\n");
    assert.match(errors.text, /Error: debug me\n\s+at /);
  } finally {
    await server.close();
  }
});
