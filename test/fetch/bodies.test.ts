/**
 * Bodies through the Fetch gateway over real sockets: the request body read
 * every way the Request API offers (text, json, arrayBuffer, formData, blob,
 * the body stream chunk by chunk, clone), the once-only rule, and every kind
 * of response body with the framing it gets (Content-Length when the body
 * is known, chunked when it is streamed).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { NativeResponse as nativeResponse } from "../../src/gateways/fetch/light-response.ts";
import {
  Client,
  encoder,
  type FetchServer,
  get,
  header,
  post,
  type RawResponse,
  roundTrip,
  serveFetch,
  show,
  waitFor,
} from "./support.ts";

const NativeResponse = nativeResponse();

/** Runs `fn` and describes the error it throws or the promise rejection, or "ok". */
async function outcome(fn: () => unknown): Promise<string> {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
  try {
    await result;
    return "ok";
  } catch (err) {
    return `rejects ${(err as Error).name}`;
  }
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

// ---- request bodies ---------------------------------------------------------------

describe("request body", () => {
  let srv: FetchServer;
  /** Chunks the /stream route received, as they arrived. */
  let chunks: string[] = [];

  before(async () => {
    srv = await serveFetch(async (request) => {
      const url = new URL(request.url);
      switch (url.pathname) {
        case "/text": {
          const before = request.bodyUsed;
          const text = await request.text();
          return Response.json({ text, before, after: request.bodyUsed });
        }
        case "/json":
          return Response.json({ parsed: await request.json() });
        case "/array-buffer": {
          const buffer = await request.arrayBuffer();
          return Response.json({
            isArrayBuffer: buffer instanceof ArrayBuffer,
            byteLength: buffer.byteLength,
            sha256: sha256(new Uint8Array(buffer)),
          });
        }
        case "/form-data": {
          const form = await request.formData();
          const out: Record<string, unknown> = {};
          for (const [name, value] of form) {
            out[name] =
              typeof value === "string"
                ? value
                : { file: value.name, type: value.type, size: value.size, text: await value.text() };
          }
          return Response.json(out);
        }
        case "/blob": {
          const blob = await request.blob();
          return Response.json({
            isBlob: blob instanceof Blob,
            size: blob.size,
            type: blob.type,
            text: await blob.text(),
          });
        }
        case "/stream": {
          chunks = [];
          const reader = request.body!.getReader();
          const decoder = new TextDecoder();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            chunks.push(decoder.decode(value));
          }
          return new Response(chunks.join("|"));
        }
        case "/twice": {
          const first = url.searchParams.get("first")!;
          const second = url.searchParams.get("second")!;
          const read = (how: string) => () =>
            how === "stream"
              ? new Response(request.body).text()
              : (request as unknown as Record<string, () => Promise<unknown>>)[how]!();
          const one = await outcome(read(first));
          const used = request.bodyUsed;
          const two = await outcome(read(second));
          return Response.json({ one, used, two });
        }
        case "/after-text": {
          await request.text();
          return Response.json({
            bodyUsed: request.bodyUsed,
            bodyIsStream: request.body instanceof ReadableStream,
            cache: request.cache,
            formData: await outcome(() => request.formData()),
            text: await outcome(() => request.text()),
            clone: await outcome(() => request.clone()),
          });
        }
        case "/no-body": {
          const body = request.body;
          const first = await request.text();
          const second = await request.text();
          const buffer = await request.arrayBuffer();
          return Response.json({
            isNull: body === null,
            first,
            second,
            bytes: buffer.byteLength,
            used: request.bodyUsed,
          });
        }
        case "/clone": {
          const copy = request.clone();
          const [a, b] = await Promise.all([copy.text(), request.text()]);
          return Response.json({
            a,
            b,
            copyIsRequest: copy instanceof Request,
            url: copy.url,
            method: copy.method,
          });
        }
        default:
          return new Response("not found", { status: 404 });
      }
    });
  });
  after(() => srv.close());

  async function json(bytes: string | Uint8Array): Promise<Record<string, unknown>> {
    const res = await roundTrip(srv.port, bytes);
    assert.equal(res.status, 200, show(res));
    return JSON.parse(res.body.toString("utf8")) as Record<string, unknown>;
  }

  test("text(): UTF-8 decoded, also when a character is split across chunks; bodyUsed flips", async () => {
    assert.deepEqual(await json(post("/text", "héllo wörld")), {
      text: "héllo wörld",
      before: false,
      after: true,
    });
    const euro = Buffer.from("€", "utf8"); // 3 bytes, sent in two chunks
    const chunked = Buffer.concat([
      Buffer.from("POST /text HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n"),
      euro.subarray(0, 2),
      Buffer.from("\r\n2\r\n"),
      euro.subarray(2),
      Buffer.from("!\r\n0\r\n\r\n"),
    ]);
    assert.equal((await json(chunked)).text, "€!");
  });

  test("json()", async () => {
    assert.deepEqual(await json(post("/json", '{"a":[1,{"b":null}],"c":"ü"}')), {
      parsed: { a: [1, { b: null }], c: "ü" },
    });
  });

  test("arrayBuffer(): a whole ArrayBuffer of exactly the body, binary-safe (1 MB)", async () => {
    const body = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 10)) & 0xff;
    assert.deepEqual(await json(post("/array-buffer", body)), {
      isArrayBuffer: true,
      byteLength: body.length,
      sha256: sha256(body),
    });
  });

  test("formData(): application/x-www-form-urlencoded", async () => {
    const form = await json(
      post("/form-data", "a=1&b=x+y&c=%C3%BC%26", "Content-Type: application/x-www-form-urlencoded\r\n"),
    );
    assert.deepEqual(form, { a: "1", b: "x y", c: "ü&" });
  });

  test("formData(): multipart/form-data with a file", async () => {
    const form = new FormData();
    form.append("field", "value ü");
    form.append(
      "upload",
      new Blob(["file content\r\n--not a boundary"], { type: "text/x-data" }),
      "notes.txt",
    );
    const encoded = new Request("http://t/", { method: "POST", body: form });
    const body = new Uint8Array(await encoded.arrayBuffer());
    const type = encoded.headers.get("content-type")!;
    assert.match(type, /^multipart\/form-data; boundary=/);
    assert.deepEqual(await json(post("/form-data", body, `Content-Type: ${type}\r\n`)), {
      field: "value ü",
      upload: { file: "notes.txt", type: "text/x-data", size: 30, text: "file content\r\n--not a boundary" },
    });
  });

  test("blob(): size, type from Content-Type, content", async () => {
    assert.deepEqual(await json(post("/blob", "blob body", "Content-Type: text/x-blob\r\n")), {
      isBlob: true,
      size: 9,
      type: "text/x-blob",
      text: "blob body",
    });
  });

  test("request.body reaches the app chunk by chunk while the upload is still going", async () => {
    const client = await Client.open(srv.port);
    try {
      client.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
      await waitFor(() => chunks.length === 1, "the first chunk in the app");
      assert.deepEqual(chunks, ["first"]);
      client.send("6\r\nsecond\r\n");
      await waitFor(() => chunks.length === 2, "the second chunk in the app");
      client.send("5\r\nthird\r\n0\r\n\r\n");
      const res = await client.read();
      assert.equal(res.status, 200, show(res));
      assert.equal(res.body.toString(), "first|second|third");
    } finally {
      client.destroy();
    }
  });

  test("request.body of a Content-Length upload arriving in pieces", async () => {
    const client = await Client.open(srv.port);
    try {
      client.send("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\nabcd");
      await waitFor(() => chunks.length === 1, "the first piece in the app");
      client.send("efgh");
      const res = await client.read();
      assert.equal(res.body.toString(), "abcd|efgh");
    } finally {
      client.destroy();
    }
  });

  for (const [first, second] of [
    ["text", "text"],
    ["text", "json"],
    ["arrayBuffer", "text"],
    ["stream", "text"],
    ["text", "stream"],
    ["formData", "blob"],
  ] as const) {
    test(`reading the body twice (${first}, then ${second}): a TypeError`, async () => {
      const bytes = post(
        `/twice?first=${first}&second=${second}`,
        "a=1",
        "Content-Type: application/x-www-form-urlencoded\r\n",
      );
      const result = await json(bytes);
      assert.equal(result.one, "ok");
      assert.equal(result.used, true);
      assert.match(result.two as string, /^(rejects|throws) TypeError$/);
    });
  }

  test("after text(): body is a spent stream, other members still work, reads reject", async () => {
    assert.deepEqual(await json(post("/after-text", "x")), {
      bodyUsed: true,
      bodyIsStream: true,
      cache: "default",
      formData: "rejects TypeError",
      text: "rejects TypeError",
      clone: "throws TypeError",
    });
  });

  test("GET (and a POST without a body): body is null, reads give empty results, never used", async () => {
    const expected = { isNull: true, first: "", second: "", bytes: 0, used: false };
    assert.deepEqual(await json(get("/no-body")), expected);
    assert.deepEqual(await json("POST /no-body HTTP/1.1\r\nHost: t\r\n\r\n"), expected);
  });

  test("clone(): both copies read the whole body", async () => {
    assert.deepEqual(await json(post("/clone", "cloned body")), {
      a: "cloned body",
      b: "cloned body",
      copyIsRequest: true,
      url: "http://t/clone",
      method: "POST",
    });
  });
});

// ---- response bodies --------------------------------------------------------------

/** A stream of the given strings, `delayMs` apart. */
function stream(parts: string[], delayMs = 0): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i > 0 && delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (i === parts.length) controller.close();
      else controller.enqueue(encoder.encode(parts[i++]!));
    },
  });
}

const BIG = Buffer.alloc(1024 * 1024 + 3, "z");

describe("response body", () => {
  let srv: FetchServer;
  before(async () => {
    srv = await serveFetch((request) => {
      const kind = new URL(request.url).pathname.slice(1);
      switch (kind) {
        case "string":
          return new Response("a string ✓");
        case "empty-string":
          return new Response("");
        case "array-buffer":
          return new Response(new Uint8Array([1, 2, 3, 0, 255]).buffer);
        case "uint8array":
          return new Response(new Uint8Array([0, 1, 2, 3]));
        case "buffer-view":
          return new Response(Buffer.from("0123456789").subarray(3, 6));
        case "int16array":
          return new Response(new Int16Array([1, 256, -1]));
        case "dataview":
          return new Response(new DataView(new Uint8Array([9, 8, 7, 6, 5]).buffer, 1, 3));
        case "blob":
          return new Response(new Blob(["blob ", "parts"], { type: "application/x-blob" }));
        case "stream":
          return new Response(stream(["one;", "two;", "three;"], 10), {
            headers: { "content-type": "text/x-stream" },
          });
        case "stream-single":
          return new Response(stream(["just one chunk"]));
        case "stream-empty":
          return new Response(stream([]));
        case "null":
          return new Response(null);
        case "undefined":
          return new Response();
        case "search-params":
          return new Response(new URLSearchParams({ a: "1", b: "x y" }));
        case "form-data": {
          const form = new FormData();
          form.append("k", "v");
          form.append("f", new Blob(["file!"], { type: "text/plain" }), "f.txt");
          return new Response(form);
        }
        case "native":
          return new NativeResponse("native body");
        case "native-bytes":
          return new NativeResponse(new Uint8Array([7, 7, 7]));
        case "json":
          return Response.json([1, "two"]);
        case "big":
          return new Response(BIG);
        default:
          return new Response("not found", { status: 404 });
      }
    });
  });
  after(() => srv.close());

  async function fetchKind(kind: string): Promise<RawResponse> {
    const res = await roundTrip(srv.port, get(`/${kind}`));
    assert.equal(res.status, 200, show(res));
    return res;
  }

  /** Expects a Content-Length response with exactly `bytes` (and Content-Type `type`; null: none). */
  async function expectLength(kind: string, bytes: Uint8Array | string, type?: string | null): Promise<void> {
    const res = await fetchKind(kind);
    const expected = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes);
    assert.equal(res.framing, "length", show(res));
    assert.equal(header(res, "content-length"), String(expected.length));
    assert.deepEqual(res.body, expected);
    if (type !== undefined) assert.equal(header(res, "content-type"), type ?? undefined);
  }

  test("a string", () => expectLength("string", "a string ✓", "text/plain;charset=UTF-8"));
  test("an empty string", () => expectLength("empty-string", "", "text/plain;charset=UTF-8"));
  test("an ArrayBuffer", () => expectLength("array-buffer", new Uint8Array([1, 2, 3, 0, 255])));
  test("a Uint8Array", () => expectLength("uint8array", new Uint8Array([0, 1, 2, 3])));
  test("a Buffer view into a larger buffer: only the view", () => expectLength("buffer-view", "345"));
  test("an Int16Array: its bytes", () =>
    expectLength("int16array", new Uint8Array(new Int16Array([1, 256, -1]).buffer)));
  test("a DataView: the bytes it covers", () => expectLength("dataview", new Uint8Array([8, 7, 6])));
  test("a Blob: its bytes and type", async () => {
    // undici streams a Blob part by part, asynchronously: it goes out chunked (its size is not visible).
    const res = await fetchKind("blob");
    assert.equal(res.body.toString(), "blob parts");
    assert.equal(header(res, "content-type"), "application/x-blob");
  });
  test("a ReadableStream already complete after one chunk: Content-Length", () =>
    expectLength("stream-single", "just one chunk"));
  test("an empty ReadableStream", () => expectLength("stream-empty", ""));
  test("null and no body: empty, Content-Length 0, no Content-Type", async () => {
    for (const kind of ["null", "undefined"]) await expectLength(kind, "", null);
  });
  test("URLSearchParams: urlencoded", () =>
    expectLength("search-params", "a=1&b=x+y", "application/x-www-form-urlencoded;charset=UTF-8"));
  test("a native undici Response", () => expectLength("native", "native body", "text/plain;charset=UTF-8"));
  test("a native undici Response with bytes", () => expectLength("native-bytes", new Uint8Array([7, 7, 7])));
  test("Response.json()", () => expectLength("json", '[1,"two"]', "application/json"));
  test("1 MB of bytes", () => expectLength("big", BIG));

  test("a ReadableStream of several chunks: chunked, every chunk", async () => {
    const res = await fetchKind("stream");
    assert.equal(res.framing, "chunked", show(res));
    assert.equal(header(res, "content-length"), undefined);
    assert.equal(header(res, "content-type"), "text/x-stream");
    assert.equal(res.body.toString(), "one;two;three;");
    assert.match(res.raw.toString("latin1"), /\r\n4\r\none;\r\n4\r\ntwo;\r\n6\r\nthree;\r\n0\r\n\r\n$/);
  });

  test("FormData: multipart that parses back to the same fields", async () => {
    const res = await fetchKind("form-data");
    const type = header(res, "content-type")!;
    assert.match(type, /^multipart\/form-data; boundary=/);
    const form = await new NativeResponse(res.body, { headers: { "content-type": type } }).formData();
    assert.equal(form.get("k"), "v");
    const file = form.get("f") as File;
    assert.equal(file.name, "f.txt");
    assert.equal(await file.text(), "file!");
  });

  test("responses on one keep-alive connection, every framing in turn", async () => {
    const client = await Client.open(srv.port);
    try {
      for (const kind of ["string", "stream", "null", "blob", "stream-single", "form-data", "json"]) {
        client.send(get(`/${kind}`));
        const res = await client.read();
        assert.equal(res.status, 200, `${kind}: ${show(res)}`);
        assert.equal(header(res, "connection"), undefined, kind);
      }
    } finally {
      client.destroy();
    }
  });
});
