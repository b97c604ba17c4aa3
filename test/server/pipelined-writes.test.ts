/**
 * One socket write per event-loop turn for pipelined requests: responses
 * whose head and body are one string are joined and written at the turn's
 * end; any other write (a byte body, a streamed body's head and chunks, a
 * `Connection: close` answer) first sends what was joined. Here a single
 * write of pipelined requests mixing all of those kinds must come back whole
 * and in order.
 */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { rawRequest, startServer } from "../helpers.ts";

let port: number;
let close: () => Promise<void>;

before(async () => {
  const app = {
    fetch(request: Request): Response {
      const url = new URL(request.url);
      const n = url.searchParams.get("n") ?? "?";
      const headers = { "X-N": n };
      switch (url.pathname) {
        case "/text":
          return new Response(`text ${n} h\u00e9llo`, { headers });
        case "/ascii":
          return new Response(`ascii ${n}`, { headers });
        case "/bytes":
          return new Response(new TextEncoder().encode(`bytes ${n}`), { headers });
        case "/stream":
          return new Response(
            new ReadableStream({
              start(controller) {
                controller.enqueue(new TextEncoder().encode(`stream ${n} a`));
                controller.enqueue(new TextEncoder().encode(`,b`));
                controller.close();
              },
            }),
            { headers },
          );
        default:
          return new Response(null, { status: 204, headers });
      }
    },
  };
  const s = await startServer(app, { accessLog: false });
  port = s.port;
  close = () => s.server.close();
});
after(() => close());

test("24 pipelined requests of mixed response kinds in one write come back whole and in order", async () => {
  // ASCII string responses are written as Latin-1 unless a non-ASCII one
  // joins their batch: "ascii" before, between and after "text" ones.
  const kinds = [
    "ascii",
    "text",
    "text",
    "bytes",
    "ascii",
    "ascii",
    "text",
    "stream",
    "text",
    "empty",
    "text",
    "ascii",
  ];
  const paths = Array.from({ length: 24 }, (_, i) => `/${kinds[i % kinds.length]}?n=${i}`);
  const wire = paths
    .map(
      (p, i) =>
        `GET ${p} HTTP/1.1\r\nHost: x\r\n${i === paths.length - 1 ? "Connection: close\r\n" : ""}\r\n`,
    )
    .join("");
  const { data, closed } = await rawRequest(port, wire, { timeoutMs: 5000 });
  assert.ok(closed, "the server closes after the last (Connection: close) response");
  // Walk the responses: head, then a Content-Length or chunked body (204: none).
  const text = data.toString("latin1");
  const seen: string[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf("\r\n\r\n", at);
    assert.ok(end > 0, `a whole head at byte ${at}`);
    const head = text.slice(at, end);
    const n = /\r\nX-N: (\d+)/i.exec(head)?.[1];
    const length = /\r\nContent-Length: (\d+)/i.exec(head);
    at = end + 4;
    let body = "";
    if (length !== null) {
      body = Buffer.from(text.slice(at, at + Number(length[1])), "latin1").toString("utf8");
      at += Number(length[1]);
    } else if (/\r\nTransfer-Encoding: chunked/i.test(head)) {
      for (;;) {
        const lineEnd = text.indexOf("\r\n", at);
        const size = Number.parseInt(text.slice(at, lineEnd), 16);
        at = lineEnd + 2;
        if (size === 0) {
          at += 2;
          break;
        }
        body += text.slice(at, at + size);
        at += size + 2;
      }
    }
    seen.push(`${n} ${head.split("\r\n")[0]} ${body}`);
  }
  const expected = paths.map((p, i) => {
    const kind = p.slice(1, p.indexOf("?"));
    const status = kind === "empty" ? "HTTP/1.1 204 No Content" : "HTTP/1.1 200 OK";
    const body =
      kind === "text"
        ? `text ${i} h\u00e9llo`
        : kind === "ascii"
          ? `ascii ${i}`
          : kind === "bytes"
            ? `bytes ${i}`
            : kind === "stream"
              ? `stream ${i} a,b`
              : "";
    return `${i} ${status} ${body}`;
  });
  assert.deepEqual(seen, expected);
});
