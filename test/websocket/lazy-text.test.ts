/**
 * The lazy text path (src/websocket/text.ts): received text is handed out
 * undecoded and an untouched echo goes back from the received bytes. What
 * must not change: invalid UTF-8 still fails with 1007 whatever path the
 * message takes (one small frame, fragments, compressed), and an echo is
 * byte-identical to what was sent. Checked on the core, and over real
 * sockets against the Fetch and ASGI echo examples with a hand-made frame
 * client and the `ws` client.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import * as zlib from "node:zlib";
import WebSocket from "ws";
import asgiEcho from "../../examples/asgi_echo.ts";
import fetchEcho from "../../examples/ws_echo.ts";
import { WebSocketCore, WS_NEED_DATA } from "../../src/websocket/index.ts";
import { startServer } from "../helpers.ts";
import { text } from "./frames.ts";
import { frame, handshake, RawWebSocket } from "./raw-client.ts";

const TEXT = 1;
const CONTINUATION = 0;

/** The payload of the one frame `frames` holds (server frames are unmasked). */
function payloadOf(frames: Uint8Array[]): Buffer {
  const all = Buffer.concat(frames);
  const len7 = all[1]! & 0x7f;
  const header = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
  return all.subarray(header);
}

/** One received text event from a server core fed `bytes`. */
function receiveText(core: WebSocketCore, bytes: Buffer) {
  core.receiveData(bytes);
  const ev = core.nextEvent();
  assert.ok(ev !== WS_NEED_DATA && ev.type === "text");
  return ev;
}

describe("lazy text on the core", () => {
  const samples = ["hello", "héllo 😀 wörld €", "x".repeat(125), "ü".repeat(100), "€".repeat(7000)];
  for (const s of samples) {
    test(`an untouched echo of ${Buffer.byteLength(s)} bytes is byte-identical`, () => {
      const core = new WebSocketCore();
      const ev = receiveText(core, text(s));
      assert.deepEqual(Buffer.from(ev.bytes), Buffer.from(s, "utf8"));
      const echoed = payloadOf(core.sendText(ev.data));
      assert.deepEqual(echoed, Buffer.from(s, "utf8"));
    });
  }

  test("a string other than the one just read is encoded, not taken from the received bytes", () => {
    const core = new WebSocketCore();
    const ev = receiveText(core, text("abc"));
    assert.equal(ev.data, "abc");
    assert.deepEqual(payloadOf(core.sendText("abd")), Buffer.from("abd"));
    assert.deepEqual(payloadOf(core.sendText("ab")), Buffer.from("ab"));
    // An equal string built another way has the same bytes.
    assert.deepEqual(payloadOf(core.sendText(["a", "b", "c"].join(""))), Buffer.from("abc"));
  });

  test("a message read after another is the one echoed", () => {
    const core = new WebSocketCore();
    const first = receiveText(core, text("first"));
    const second = receiveText(core, text("second"));
    assert.equal(second.data, "second");
    assert.equal(first.data, "first");
    assert.deepEqual(payloadOf(core.sendText(second.data)), Buffer.from("second"));
  });

  test("bytes are available without decoding, and data decodes them", () => {
    const core = new WebSocketCore();
    const ev = receiveText(core, Buffer.concat([text("a"), text("ü")]));
    assert.deepEqual(Buffer.from(ev.bytes), Buffer.from("a"));
    assert.equal(ev.data, "a");
  });

  const invalid: [string, Buffer][] = [
    ["a lone continuation byte", Buffer.from([0x68, 0x80, 0x69])],
    ["an overlong encoding", Buffer.from([0xc0, 0xaf])],
    ["a surrogate", Buffer.from([0xed, 0xa0, 0x80])],
    ["a sequence cut off at the end", Buffer.from([0x61, 0xe2, 0x82])],
    ["0xFF", Buffer.from([0xff])],
  ];
  for (const [what, bytes] of invalid) {
    test(`${what} in one small frame is 1007`, () => {
      const core = new WebSocketCore();
      core.receiveData(text(bytes));
      assert.throws(() => core.nextEvent(), { closeCode: 1007, code: "TSGI_ERR_WS_INVALID_UTF8" });
    });
  }
});

/** A compressed frame (RSV1) carrying `bytes` deflated, as RFC 7692 §7.2.1 sends it. */
function compressedTextFrame(bytes: Buffer): Buffer {
  const deflated = zlib.deflateRawSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  // The trailing 00 00 FF FF is left off on the wire (RFC 7692 §7.2.1).
  return frame(TEXT, deflated.subarray(0, deflated.length - 4), { rsv: 4 });
}

for (const [name, app, iface] of [
  ["Fetch", fetchEcho, "fetch"],
  ["ASGI", asgiEcho, "asgi"],
] as const) {
  describe(`lazy text over a socket, ${name} echo`, () => {
    let port = 0;
    let close: () => Promise<void>;
    before(async () => {
      const s = await startServer(app, { interface: iface, accessLog: false, wsPerMessageDeflate: true });
      port = s.port;
      close = () => s.server.close(500);
    });
    after(() => close());

    async function failsWith1007(request: string, ...frames: Buffer[]): Promise<void> {
      const ws = await RawWebSocket.open(port, request);
      assert.equal(ws.status, 101, ws.responseHead);
      for (const f of frames) ws.send(f);
      assert.equal((await ws.closeFrame())?.code, 1007);
      assert.ok(await ws.closed(), "the server closes the TCP connection after failing");
    }

    test("invalid UTF-8 in one small frame is 1007", () =>
      failsWith1007(handshake(), frame(TEXT, Buffer.from([0x68, 0xc3, 0x28]))));
    test("a character cut off at the end of a one-frame message is 1007", () =>
      failsWith1007(handshake(), frame(TEXT, Buffer.from([0x61, 0xe2, 0x82]))));
    test("invalid UTF-8 in a later fragment is 1007", () =>
      failsWith1007(
        handshake(),
        frame(TEXT, "ok so far ", { fin: false }),
        frame(CONTINUATION, Buffer.from([0x61, 0xed, 0xa0, 0x80]), { fin: false }),
      ));
    test("a character split across fragments and never finished is 1007", () =>
      failsWith1007(
        handshake(),
        frame(TEXT, Buffer.from([0x61, 0xe2]), { fin: false }),
        frame(CONTINUATION, Buffer.from([0x82])),
      ));
    test("invalid UTF-8 inside a compressed message is 1007", () =>
      failsWith1007(
        handshake("/", "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        compressedTextFrame(
          Buffer.concat([Buffer.from("fine "), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])]),
        ),
      ));

    const messages: [string, string][] = [
      ["short ASCII", "hello"],
      ["short, not ASCII", "héllo 😀"],
      ["125 bytes", "y".repeat(125)],
      ["126 bytes (16-bit length)", "z".repeat(126)],
      ["40,000 bytes, not ASCII (sent as header and payload)", "€ and more ".repeat(3077)],
    ];
    for (const [what, message] of messages) {
      test(`an untouched echo is byte-identical: ${what}`, async () => {
        const ws = await RawWebSocket.open(port);
        const bytes = Buffer.from(message, "utf8");
        ws.send(frame(TEXT, bytes));
        const echo = await ws.next();
        assert.ok(echo !== null);
        assert.equal(echo.opcode, TEXT);
        assert.ok(echo.fin);
        assert.deepEqual(echo.payload, bytes);
        ws.destroy();
      });
    }

    test("an untouched echo of a fragmented message is byte-identical", async () => {
      const ws = await RawWebSocket.open(port);
      const bytes = Buffer.from("fragments: 😀 split ", "utf8");
      // Split inside the emoji's four bytes.
      ws.send(frame(TEXT, bytes.subarray(0, 13), { fin: false }));
      ws.send(frame(CONTINUATION, bytes.subarray(13, 15), { fin: false }));
      ws.send(frame(CONTINUATION, bytes.subarray(15)));
      const echo = await ws.next();
      assert.ok(echo !== null && echo.opcode === TEXT);
      assert.deepEqual(echo.payload, bytes);
      ws.destroy();
    });

    test("compressed messages echo byte-identical through the ws client", async () => {
      const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } });
      await once(client, "open");
      assert.match(client.extensions, /permessage-deflate/);
      const sent = ["small", "über ".repeat(1000), "😀".repeat(5000)];
      const got: Buffer[] = [];
      const done = new Promise<void>((resolve) => {
        client.on("message", (data: Buffer, isBinary: boolean) => {
          assert.equal(isBinary, false);
          got.push(data);
          if (got.length === sent.length) resolve();
        });
      });
      for (const s of sent) client.send(s);
      await done;
      assert.deepEqual(
        got.map((b) => b.toString("hex")),
        sent.map((s) => Buffer.from(s, "utf8").toString("hex")),
      );
      client.close();
      await once(client, "close");
    });
  });
}
