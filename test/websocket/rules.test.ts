/**
 * RFC 6455 over real sockets: every rule a client can break gets its exact
 * close code (or handshake status), checked with hand-made frames against
 * the echo example served by the real server.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import echo from "../../examples/ws_echo.ts";
import { upgradeWebSocket as upgradeWebSocketFor } from "../../src/gateways/fetch/websocket.ts";
import type { ServeAppOptions } from "../../src/serve.ts";
import { startServer } from "../helpers.ts";
import { closePayload, frame, handshake, RawWebSocket } from "./raw-client.ts";

const TEXT = 1;
const BINARY = 2;
const CONTINUATION = 0;
const CLOSE = 8;
const PING = 9;
const PONG = 10;

async function serveEcho(options: ServeAppOptions = {}) {
  return startServer(echo, { interface: "fetch", accessLog: false, ...options });
}

describe("WebSocket handshake over a socket", () => {
  let port = 0;
  let close: () => Promise<void>;
  before(async () => {
    const s = await serveEcho();
    port = s.port;
    close = () => s.server.close(500);
  });
  after(() => close());

  test("accepts a valid handshake with the RFC 6455 §1.3 accept value", async () => {
    const ws = await RawWebSocket.open(port, handshake("/", "", "dGhlIHNhbXBsZSBub25jZQ=="));
    assert.equal(ws.status, 101);
    assert.match(ws.responseHead, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
    assert.match(ws.responseHead, /\r\nUpgrade: websocket/i);
    assert.match(ws.responseHead, /\r\nConnection: Upgrade/i);
    assert.doesNotMatch(ws.responseHead, /Content-Length|Transfer-Encoding/i);
    ws.destroy();
  });

  const bad: [string, string, number][] = [
    ["a key that is not 16 bytes", handshake("/", "", "c2hvcnQ="), 400],
    [
      "no key",
      "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
      400,
    ],
    [
      "Connection without upgrade",
      "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      400,
    ],
    [
      "a POST",
      "POST / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
      400,
    ],
    [
      "version 8",
      "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
      426,
    ],
  ];
  for (const [what, request, status] of bad) {
    test(`refuses ${what} with ${status}`, async () => {
      const ws = await RawWebSocket.open(port, request);
      assert.equal(ws.status, status, ws.responseHead);
      if (status === 426) assert.match(ws.responseHead, /\r\nSec-WebSocket-Version: 13\r\n/i);
      ws.destroy();
    });
  }
});

describe("WebSocket frames over a socket", () => {
  let port = 0;
  let close: () => Promise<void>;
  before(async () => {
    const s = await serveEcho({ wsMaxMessageSize: 1024 });
    port = s.port;
    close = () => s.server.close(500);
  });
  after(() => close());

  async function failsWith(code: number, ...frames: Buffer[]): Promise<void> {
    const ws = await RawWebSocket.open(port);
    assert.equal(ws.status, 101);
    for (const f of frames) ws.send(f);
    const closing = await ws.closeFrame();
    assert.deepEqual(closing?.code, code);
    assert.ok(await ws.closed(), "the server closes the TCP connection after failing");
  }

  test("an unmasked client frame fails with 1002", () => failsWith(1002, frame(TEXT, "hi", { mask: false })));
  test("RSV1 without an extension fails with 1002", () => failsWith(1002, frame(TEXT, "hi", { rsv: 4 })));
  test("RSV2 fails with 1002", () => failsWith(1002, frame(BINARY, "hi", { rsv: 2 })));
  test("RSV3 fails with 1002", () => failsWith(1002, frame(BINARY, "hi", { rsv: 1 })));
  test("reserved data opcode 3 fails with 1002", () => failsWith(1002, frame(3, "x")));
  test("reserved control opcode 0xB fails with 1002", () => failsWith(1002, frame(0xb, "x")));
  test("a ping over 125 bytes fails with 1002", () => failsWith(1002, frame(PING, "p".repeat(126))));
  test("a fragmented ping fails with 1002", () => failsWith(1002, frame(PING, "p", { fin: false })));
  test("a continuation with no message started fails with 1002", () =>
    failsWith(1002, frame(CONTINUATION, "x")));
  test("a new message inside a fragmented one fails with 1002", () =>
    failsWith(1002, frame(TEXT, "a", { fin: false }), frame(TEXT, "b")));
  test("a 64-bit length with the top bit set fails with 1002", () => {
    const f = frame(BINARY, "", { lengthBits: 64, length: 0 });
    f[2] = 0x80; // most significant byte of the 64-bit length
    return failsWith(1002, f);
  });
  test("invalid UTF-8 in a text message fails with 1007", () =>
    failsWith(1007, frame(TEXT, Buffer.from([0x68, 0xc3, 0x28]))));
  test("invalid UTF-8 fails fast, before the message is complete", () =>
    // The final fragment never comes: the first one is already wrong.
    failsWith(1007, frame(TEXT, Buffer.from([0x61, 0xed, 0xa0, 0x80]), { fin: false })));
  test("UTF-8 split across fragments is fine, an unfinished sequence at the end is not", async () => {
    const euro = Buffer.from("€", "utf8");
    const ws = await RawWebSocket.open(port);
    ws.send(frame(TEXT, euro.subarray(0, 1), { fin: false }));
    ws.send(frame(CONTINUATION, euro.subarray(1)));
    const echoed = await ws.next();
    assert.equal(echoed?.payload.toString("utf8"), "€");
    ws.send(frame(TEXT, euro.subarray(0, 2)));
    assert.equal((await ws.closeFrame())?.code, 1007);
    ws.destroy();
  });
  test("a message over the size limit fails with 1009 before its payload arrives", () =>
    failsWith(1009, frame(BINARY, "", { length: 4096, lengthBits: 16 })));
  test("fragments adding up over the limit fail with 1009", () =>
    failsWith(
      1009,
      frame(BINARY, Buffer.alloc(600), { fin: false }),
      frame(CONTINUATION, Buffer.alloc(600), { fin: false }),
    ));
  test("a close frame of one byte fails with 1002", () => failsWith(1002, frame(CLOSE, Buffer.from([3]))));
  for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
    test(`close code ${code} fails with 1002`, () => failsWith(1002, frame(CLOSE, closePayload(code))));
  }
  test("a close reason that is not UTF-8 fails with 1007", () =>
    failsWith(1007, frame(CLOSE, Buffer.concat([closePayload(1000), Buffer.from([0xff])]))));

  test("a close is echoed with its code, then the server closes TCP", async () => {
    const ws = await RawWebSocket.open(port);
    ws.send(frame(CLOSE, closePayload(4001, "bye")));
    assert.equal((await ws.closeFrame())?.code, 4001);
    assert.ok(await ws.closed());
  });

  test("an empty close is answered with an empty close (1005 is never on the wire)", async () => {
    const ws = await RawWebSocket.open(port);
    ws.send(frame(CLOSE));
    const f = await ws.next();
    assert.equal(f?.opcode, CLOSE);
    assert.equal(f?.payload.length, 0);
    assert.ok(await ws.closed());
  });

  test("pings are answered with pongs carrying the same payload", async () => {
    const ws = await RawWebSocket.open(port);
    ws.send(frame(PING, "are you there"));
    const pong = await ws.next();
    assert.equal(pong?.opcode, PONG);
    assert.equal(pong?.payload.toString(), "are you there");
    ws.destroy();
  });

  test("fragments with pings between them: pongs at once, then the whole message", async () => {
    const ws = await RawWebSocket.open(port);
    ws.send(frame(TEXT, "frag1-", { fin: false }));
    ws.send(frame(PING, "p1"));
    ws.send(frame(CONTINUATION, "frag2-", { fin: false }));
    ws.send(frame(PING, "p2"));
    ws.send(frame(PONG, "unsolicited"));
    ws.send(frame(CONTINUATION, "frag3"));
    const first = await ws.next();
    const second = await ws.next();
    const message = await ws.next();
    assert.deepEqual(
      [first?.opcode, first?.payload.toString(), second?.opcode, second?.payload.toString()],
      [PONG, "p1", PONG, "p2"],
    );
    assert.equal(message?.opcode, TEXT);
    assert.equal(message?.payload.toString(), "frag1-frag2-frag3");
    ws.destroy();
  });

  test("echoed frames use the minimal length encoding", async () => {
    const ws = await RawWebSocket.open(port);
    for (const size of [125, 126, 1000]) {
      ws.send(frame(BINARY, Buffer.alloc(size, 7)));
      const f = await ws.next();
      assert.equal(f?.payload.length, size);
      assert.equal(f?.fin, true);
    }
    // Header sizes are visible in the raw bytes: send one more and read the socket directly.
    ws.destroy();
  });

  test("frames split into single bytes still make the same message", async () => {
    const ws = await RawWebSocket.open(port);
    const bytes = frame(TEXT, "byte by byte ✓");
    for (const b of bytes) {
      ws.send(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal((await ws.next())?.payload.toString(), "byte by byte ✓");
    ws.destroy();
  });
});

describe("WebSocket timers and limits", () => {
  test("the server pings, and closes with 1011 when no pong comes", async () => {
    const s = await serveEcho({ wsPingInterval: 300, wsPingTimeout: 300 });
    try {
      const ws = await RawWebSocket.open(s.port);
      const ping = await ws.next(3000);
      assert.equal(ping?.opcode, PING);
      // No pong: the connection is failed.
      assert.equal((await ws.closeFrame(3000))?.code, 1011);
      assert.ok(await ws.closed());
    } finally {
      await s.server.close(500);
    }
  });

  test("a peer that answers pings stays connected", async () => {
    const s = await serveEcho({ wsPingInterval: 250, wsPingTimeout: 250 });
    try {
      const ws = await RawWebSocket.open(s.port);
      for (let i = 0; i < 3; i++) {
        const ping = await ws.next(3000);
        assert.equal(ping?.opcode, PING);
        ws.send(frame(PONG, ping!.payload));
      }
      ws.send(frame(TEXT, "still here"));
      assert.equal((await ws.next())?.payload.toString(), "still here");
      ws.destroy();
    } finally {
      await s.server.close(500);
    }
  });

  test("--ws-max-connections: one more handshake gets 503", async () => {
    const s = await serveEcho({ wsMaxConnections: 2 });
    try {
      const a = await RawWebSocket.open(s.port);
      const b = await RawWebSocket.open(s.port);
      const c = await RawWebSocket.open(s.port);
      assert.deepEqual([a.status, b.status, c.status], [101, 101, 503]);
      a.send(frame(CLOSE, closePayload(1000)));
      await a.closed();
      // A place is free again.
      let d: RawWebSocket | null = null;
      for (let i = 0; i < 20 && d?.status !== 101; i++) {
        d = await RawWebSocket.open(s.port);
        if (d.status !== 101) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(d?.status, 101);
      for (const ws of [b, c, d!]) ws.destroy();
    } finally {
      await s.server.close(500);
    }
  });

  test("graceful shutdown closes WebSockets with 1001, and drops one that never answers", async () => {
    const s = await serveEcho({ wsCloseTimeout: 300 });
    const ws = await RawWebSocket.open(s.port);
    const closing = s.server.close(5000);
    assert.equal((await ws.closeFrame())?.code, 1001);
    // We never answer the close: the server gives up after wsCloseTimeout.
    assert.ok(await ws.closed(3000));
    await closing;
  });

  test("a peer that stops reading is dropped once its unsent bytes pass the limit", async () => {
    const big = new Uint8Array(256 * 1024);
    const app = {
      fetch(request: Request) {
        const { socket, response } = upgradeWebSocketFor(request);
        socket.onopen = () => {
          // Far more than the limit, as fast as send() takes it.
          for (let i = 0; i < 64; i++) socket.send(big);
        };
        socket.onclose = (event) => closes.push((event as unknown as { code: number }).code);
        return response;
      },
    };
    const closes: number[] = [];
    const s = await startServer(app, {
      interface: "fetch",
      accessLog: false,
      wsMaxBufferedBytes: 1024 * 1024,
    });
    try {
      const ws = await RawWebSocket.open(s.port);
      ws.socket.pause(); // never read
      const deadline = Date.now() + 3000;
      while (closes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(closes, [1006]);
      ws.destroy();
    } finally {
      await s.server.close(500);
    }
  });
});
