/**
 * The opening handshake (src/websocket/handshake.ts): every refusal with its
 * status (400 or 426), the accept key of RFC 6455 §1.3, subprotocol
 * selection and the 101 response head.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { RequestHead } from "../../src/http1/index.ts";
import {
  acceptKey,
  acceptResponse,
  checkHandshake,
  HandshakeError,
  selectProtocol,
  WebSocketUsageError,
} from "../../src/websocket/index.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function head(headers: string[], more: Partial<RequestHead> = {}): RequestHead {
  return {
    type: "request",
    method: "GET",
    target: "/chat",
    version: 11,
    headers: ["Host", "server.example.com", ...headers],
    host: "server.example.com",
    framing: "none",
    contentLength: 0,
    keepAlive: true,
    expectContinue: false,
    upgrade: "websocket",
    ...more,
  };
}

const GOOD = [
  "Upgrade",
  "websocket",
  "Connection",
  "Upgrade",
  "Sec-WebSocket-Key",
  KEY,
  "Sec-WebSocket-Version",
  "13",
];

/** GOOD with one header replaced (value null removes it). */
function withHeader(name: string, value: string | null): string[] {
  const out: string[] = [];
  for (let i = 0; i < GOOD.length; i += 2) {
    if (GOOD[i] === name) {
      if (value !== null) out.push(name, value);
    } else out.push(GOOD[i]!, GOOD[i + 1]!);
  }
  return out;
}

function refusal(h: RequestHead): HandshakeError {
  try {
    checkHandshake(h);
  } catch (err) {
    assert.ok(err instanceof HandshakeError, String(err));
    assert.equal(err.code, "TSGI_ERR_WS_HANDSHAKE");
    return err;
  }
  assert.fail("handshake was accepted");
}

describe("checkHandshake", () => {
  test("accepts the RFC 6455 §1.2 example and reports what it asked for", () => {
    const req = checkHandshake(
      head([
        "upgrade",
        "WebSocket",
        "Connection",
        "keep-alive, Upgrade",
        "Sec-WebSocket-Key",
        KEY,
        "Origin",
        "http://example.com",
        "Sec-WebSocket-Protocol",
        "chat, superchat",
        "Sec-WebSocket-Protocol",
        "v3",
        "Sec-WebSocket-Version",
        "13",
        "Sec-WebSocket-Extensions",
        "permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Extensions",
        "x-foo",
      ]),
    );
    assert.deepEqual(req, {
      key: KEY,
      protocols: ["chat", "superchat", "v3"],
      extensions: "permessage-deflate; client_max_window_bits, x-foo",
      origin: "http://example.com",
    });
  });

  test("SP/HTAB around list elements and the version are OWS", () => {
    const req = checkHandshake(
      head([
        "Upgrade",
        " \twebsocket\t ",
        "Connection",
        "keep-alive ,\tUpgrade ",
        "Sec-WebSocket-Key",
        KEY,
        "Sec-WebSocket-Version",
        " 13\t",
        "Sec-WebSocket-Protocol",
        "\tchat , superchat\t",
      ]),
    );
    assert.deepEqual(req.protocols, ["chat", "superchat"]);
  });

  test("no Origin, no protocols, no extensions", () => {
    assert.deepEqual(checkHandshake(head(GOOD)), { key: KEY, protocols: [], extensions: "", origin: null });
  });

  const bad400: [string, RequestHead][] = [
    ["POST", head(GOOD, { method: "POST" })],
    ["lower-case get", head(GOOD, { method: "get" })],
    ["HTTP/1.0", head(GOOD, { version: 10 })],
    ["a body", head(GOOD, { framing: "length", contentLength: 3 })],
    ["a chunked body", head(GOOD, { framing: "chunked", contentLength: -1 })],
    ["no Upgrade", head(withHeader("Upgrade", null))],
    ["Upgrade without websocket", head(withHeader("Upgrade", "h2c"))],
    ["Upgrade: websocket/13 (not the token)", head(withHeader("Upgrade", "websocket/13"))],
    ["no Connection", head(withHeader("Connection", null))],
    ["Connection without upgrade", head(withHeader("Connection", "keep-alive"))],
    ["Connection: upgraded", head(withHeader("Connection", "upgraded"))],
    ["no key", head(withHeader("Sec-WebSocket-Key", null))],
    ["two keys", head([...GOOD, "Sec-WebSocket-Key", KEY])],
    ["key of 15 bytes", head(withHeader("Sec-WebSocket-Key", Buffer.alloc(15, 1).toString("base64")))],
    ["key of 17 bytes", head(withHeader("Sec-WebSocket-Key", Buffer.alloc(17, 1).toString("base64")))],
    ["key not base64", head(withHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ!="))],
    ["key without padding", head(withHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ"))],
    ["key with non-zero padding bits", head(withHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZR=="))],
    ["key base64url", head(withHeader("Sec-WebSocket-Key", "_-_-_-_-_-_-_-_-_-_-_w=="))],
    ["protocol not a token", head([...GOOD, "Sec-WebSocket-Protocol", "chat, super chat"])],
    [
      "protocol listed twice",
      head([...GOOD, "Sec-WebSocket-Protocol", "chat", "Sec-WebSocket-Protocol", "chat"]),
    ],
  ];
  // Issue 12: list elements and the version are trimmed of SP/HTAB only (RFC 9110 §5.6.3);
  // U+00A0 (0xA0 read as latin-1), which trim() would also remove, is part of the value.
  for (const [field, value] of [
    ["Upgrade", "\xa0websocket"],
    ["Upgrade", "websocket\xa0"],
    ["Connection", "keep-alive, \xa0Upgrade"],
    ["Connection", "Upgrade\u3000"],
    ["Sec-WebSocket-Key", `\xa0${KEY}`],
  ] as const) {
    bad400.push([
      `${field}: ${JSON.stringify(value)} (0xA0 / U+3000 are not OWS)`,
      head(withHeader(field, value)),
    ]);
  }
  bad400.push(["protocol with 0xA0 around it", head([...GOOD, "Sec-WebSocket-Protocol", "\xa0chat\xa0"])]);
  for (const [name, h] of bad400) {
    test(`400: ${name}`, () => {
      const err = refusal(h);
      assert.equal(err.status, 400);
      assert.deepEqual(err.headers, []);
    });
  }

  const bad426: [string, RequestHead][] = [
    ["version missing", head(withHeader("Sec-WebSocket-Version", null))],
    ["version 8", head(withHeader("Sec-WebSocket-Version", "8"))],
    ["version 14", head(withHeader("Sec-WebSocket-Version", "14"))],
    ["versions 13 and 8", head([...GOOD, "Sec-WebSocket-Version", "8"])],
    ["version 013", head(withHeader("Sec-WebSocket-Version", "013"))],
    // Issue 12: 0xA0 is not OWS (RFC 9110 §5.6.3).
    ["version \\xa013", head(withHeader("Sec-WebSocket-Version", "\xa013"))],
    ["version 13\\xa0", head(withHeader("Sec-WebSocket-Version", "13\xa0"))],
  ];
  for (const [name, h] of bad426) {
    test(`426 with Sec-WebSocket-Version: 13: ${name}`, () => {
      const err = refusal(h);
      assert.equal(err.status, 426);
      assert.deepEqual(err.headers, ["Sec-WebSocket-Version", "13"]);
    });
  }

  test("an earlier failing rule wins over the version (400 before 426)", () => {
    assert.equal(refusal(head(withHeader("Sec-WebSocket-Version", "8"), { method: "POST" })).status, 400);
  });
});

test("acceptKey: the RFC 6455 §1.3 example", () => {
  assert.equal(acceptKey(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("selectProtocol: the client's first offer that we support", () => {
  assert.equal(selectProtocol(["v2.chat", "chat"], ["chat", "v2.chat"]), "v2.chat");
  assert.equal(selectProtocol(["x", "chat"], ["chat"]), "chat");
  assert.equal(selectProtocol(["Chat"], ["chat"]), null);
  assert.equal(selectProtocol([], ["chat"]), null);
});

describe("acceptResponse", () => {
  const req = { key: KEY, protocols: ["chat", "superchat"], extensions: "", origin: null };

  test("the mandatory fields", () => {
    assert.deepEqual(acceptResponse(req, {}), {
      status: 101,
      headers: [
        "Upgrade",
        "websocket",
        "Connection",
        "Upgrade",
        "Sec-WebSocket-Accept",
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      ],
    });
  });

  test("protocol, extensions, then extra headers", () => {
    const res = acceptResponse(req, {
      protocol: "superchat",
      extensions: "permessage-deflate",
      headers: ["X-A", "1"],
    });
    assert.deepEqual(res.headers.slice(6), [
      "Sec-WebSocket-Protocol",
      "superchat",
      "Sec-WebSocket-Extensions",
      "permessage-deflate",
      "X-A",
      "1",
    ]);
  });

  test("null protocol and extensions are left out", () => {
    assert.equal(acceptResponse(req, { protocol: null, extensions: null }).headers.length, 6);
  });

  test("a protocol the client did not offer is a usage error", () => {
    assert.throws(() => acceptResponse(req, { protocol: "v3" }), WebSocketUsageError);
  });
});
