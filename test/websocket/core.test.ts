/**
 * Byte-level tests of the WebSocket core (src/websocket/core.ts): every
 * receiving rule with the exact close code and error code it fails with, the
 * closing handshake, fragmentation with control frames in between, resuming
 * at every byte, and the exact bytes of what the core sends.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocketCore, WebSocketUsageError, WS_NEED_DATA } from "../../src/websocket/index.ts";
import { binary, close, cont, drain, expectFailure, feedSplit, frame, hex, ping, text } from "./frames.ts";

const concat = (...b: Buffer[]) => Buffer.concat(b);
const bytes = (...n: number[]) => Buffer.from(n);
const join = (frames: Uint8Array[]) => Buffer.concat(frames);

describe("receiving: messages", () => {
  test("a text and a binary message", () => {
    const core = new WebSocketCore();
    core.receiveData(concat(text("Hello"), binary(bytes(1, 2, 3))));
    assert.deepEqual(drain(core), [
      { type: "text", data: "Hello" },
      { type: "binary", data: "010203" },
    ]);
    assert.equal(core.bufferedBytes, 0);
  });

  test("the RFC 6455 §5.7 masked example: 81 85 37 fa 21 3d 7f 9f 4d 51 58", () => {
    const core = new WebSocketCore();
    core.receiveData(Buffer.from("818537fa213d7f9f4d5158", "hex"));
    assert.deepEqual(drain(core), [{ type: "text", data: "Hello" }]);
  });

  test("empty text and binary messages", () => {
    const core = new WebSocketCore();
    core.receiveData(concat(text(""), binary("")));
    assert.deepEqual(drain(core), [
      { type: "text", data: "" },
      { type: "binary", data: "" },
    ]);
  });

  test("a single-frame binary message is a view of the received chunk (no copy)", () => {
    const core = new WebSocketCore();
    const input = binary(Buffer.alloc(1000, 7));
    core.receiveData(input);
    const ev = core.nextEvent();
    assert.ok(ev !== WS_NEED_DATA && ev.type === "binary");
    assert.equal(ev.data.buffer, input.buffer);
    assert.deepEqual(Buffer.from(ev.data), Buffer.alloc(1000, 7));
  });

  test("non-minimal length encodings are accepted", () => {
    const core = new WebSocketCore();
    core.receiveData(concat(text("abc", { lengthBits: 16 }), text("defg", { lengthBits: 64 })));
    assert.deepEqual(drain(core), [
      { type: "text", data: "abc" },
      { type: "text", data: "defg" },
    ]);
  });

  test("16- and 64-bit lengths at their boundaries", () => {
    for (const n of [125, 126, 65535, 65536, 70001]) {
      const core = new WebSocketCore();
      const payload = Buffer.alloc(n);
      for (let i = 0; i < n; i++) payload[i] = i & 0xff;
      core.receiveData(binary(payload));
      const ev = core.nextEvent();
      assert.ok(ev !== WS_NEED_DATA && ev.type === "binary");
      assert.deepEqual(Buffer.from(ev.data), payload, `length ${n}`);
    }
  });

  test("fragmented message with a ping and a pong in between", () => {
    const core = new WebSocketCore();
    core.receiveData(
      concat(
        text("Hel", { fin: false }),
        ping("p1"),
        cont("lo ", { fin: false }),
        frame({ opcode: 0xa, payload: "p2" }),
        cont("wörld", { fin: false }),
        cont(""),
      ),
    );
    assert.deepEqual(drain(core), [
      { type: "ping", data: "7031", reply: "8a027031" },
      { type: "pong", data: "7032" },
      { type: "text", data: "Hello wörld" },
    ]);
  });

  test("a partial frame waits; bufferedBytes counts what is held", () => {
    const core = new WebSocketCore();
    const f = text("Hello");
    core.receiveData(f.subarray(0, 4));
    assert.equal(core.nextEvent(), WS_NEED_DATA);
    core.receiveData(f.subarray(4, 8));
    assert.equal(core.nextEvent(), WS_NEED_DATA);
    assert.equal(core.bufferedBytes, 2);
    core.receiveData(f.subarray(8));
    assert.deepEqual(drain(core), [{ type: "text", data: "Hello" }]);
  });
});

describe("receiving: every split gives the same events", () => {
  const stream = concat(
    text("héllo 😀 ", { fin: false }),
    ping("ping!"),
    cont("wörld", { fin: false }),
    cont(" €", { fin: true }),
    binary(Buffer.alloc(300, 0xab)),
    binary(Buffer.alloc(200, 0x5c), { fin: false }),
    frame({ opcode: 0xa, payload: "" }),
    cont(Buffer.alloc(10, 1)),
    text("end"),
    close(1000, "bye"),
  );
  const whole = feedSplit(new WebSocketCore(), stream, []);

  test("the reference run", () => {
    assert.deepEqual(
      whole.map((e) => e.type),
      ["ping", "text", "binary", "pong", "binary", "text", "close"],
    );
    assert.deepEqual(whole[1], { type: "text", data: "héllo 😀 wörld €" });
  });

  test("one byte at a time", () => {
    assert.deepEqual(feedSplit(new WebSocketCore(), stream, new Array(stream.length).fill(1)), whole);
  });

  test("every split into two pieces and random splits", () => {
    for (let cut = 0; cut < stream.length; cut++) {
      assert.deepEqual(feedSplit(new WebSocketCore(), stream, [cut]), whole, `cut at ${cut}`);
    }
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 30; round++) {
      const sizes: number[] = [];
      for (let total = 0; total < stream.length; ) {
        const n = 1 + rand(round % 2 === 0 ? 20 : 5000);
        sizes.push(n);
        total += n;
      }
      assert.deepEqual(feedSplit(new WebSocketCore(), stream, sizes), whole, `round ${round}`);
    }
  });

  test("a 64-bit-length message with a ping inside, in random pieces", () => {
    const big = Buffer.alloc(70000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const input = concat(
      binary(big.subarray(0, 66000), { fin: false }),
      ping("p"),
      cont(big.subarray(66000)),
    );
    const expected = [
      { type: "ping", data: "70", reply: "8a0170" },
      { type: "binary", data: big.toString("hex") },
    ];
    for (const max of [7, 1000, 30000]) {
      const sizes: number[] = [];
      for (let total = 0, k = 1; total < input.length; k++) {
        const n = 1 + ((k * 7919) % max);
        sizes.push(n);
        total += n;
      }
      assert.deepEqual(feedSplit(new WebSocketCore(), input, sizes), expected, `pieces up to ${max}`);
    }
  });
});

describe("receiving: protocol errors", () => {
  test("unmasked client frame → 1002", () => {
    expectFailure(text("hi", { mask: false }), 1002, "TSGI_ERR_WS_UNMASKED_FRAME");
  });

  test("masked server frame in client mode → 1002", () => {
    expectFailure(text("hi"), 1002, "TSGI_ERR_WS_MASKED_FRAME", { client: true });
  });

  for (const rsv of [1, 2, 3, 4, 5, 6, 7]) {
    test(`RSV bits ${rsv.toString(2).padStart(3, "0")} without an extension → 1002`, () => {
      expectFailure(text("hi", { rsv }), 1002, "TSGI_ERR_WS_RESERVED_BITS");
    });
  }

  const deflate = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  test("with deflate: RSV1 on a continuation frame → 1002", () => {
    expectFailure([text("a", { fin: false }), cont("b", { rsv: 4 })], 1002, "TSGI_ERR_WS_RESERVED_BITS", {
      deflate,
    });
  });
  test("with deflate: RSV1 on a control frame, RSV2 on a data frame → 1002", () => {
    expectFailure(ping("", { rsv: 4 }), 1002, "TSGI_ERR_WS_RESERVED_BITS", { deflate });
    expectFailure(text("a", { rsv: 2 }), 1002, "TSGI_ERR_WS_RESERVED_BITS", { deflate });
  });

  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`reserved opcode ${opcode.toString(16)} → 1002`, () => {
      expectFailure(frame({ opcode, payload: "x" }), 1002, "TSGI_ERR_WS_BAD_OPCODE");
    });
  }

  test("control frame with 126 bytes → 1002, decided from the header alone", () => {
    const f = ping(Buffer.alloc(126));
    expectFailure(f.subarray(0, 2), 1002, "TSGI_ERR_WS_BAD_CONTROL_FRAME");
  });
  test("control frame with a 16-bit length of 5 → 1002 (the 7-bit field is over 125)", () => {
    expectFailure(ping("hello", { lengthBits: 16 }), 1002, "TSGI_ERR_WS_BAD_CONTROL_FRAME");
  });
  test("fragmented control frames → 1002", () => {
    expectFailure(ping("x", { fin: false }), 1002, "TSGI_ERR_WS_BAD_CONTROL_FRAME");
    expectFailure(close(1000).fill(0x08, 0, 1), 1002, "TSGI_ERR_WS_BAD_CONTROL_FRAME");
  });

  test("continuation without a message → 1002", () => {
    expectFailure(cont("x"), 1002, "TSGI_ERR_WS_BAD_FRAGMENTATION");
    expectFailure(concat(text("done"), cont("x")), 1002, "TSGI_ERR_WS_BAD_FRAGMENTATION");
  });
  test("a new data frame while a message is in progress → 1002", () => {
    expectFailure(concat(text("a", { fin: false }), text("b")), 1002, "TSGI_ERR_WS_BAD_FRAGMENTATION");
    expectFailure(concat(binary("a", { fin: false }), binary("b")), 1002, "TSGI_ERR_WS_BAD_FRAGMENTATION");
  });

  test("64-bit length with the top bit set → 1002, from the header alone", () => {
    const f = binary("abc", { lengthBits: 64, declaredHigh: 0x80000000 });
    expectFailure(f.subarray(0, 14), 1002, "TSGI_ERR_WS_BAD_LENGTH");
  });

  test("a 64-bit length over 2^53 → 1009", () => {
    const f = binary("abc", { lengthBits: 64, declaredHigh: 0x00400000 });
    expectFailure(f.subarray(0, 14), 1009, "TSGI_ERR_WS_MESSAGE_TOO_BIG");
  });

  test("events before the error are returned first", () => {
    const core = new WebSocketCore();
    core.receiveData(concat(text("ok"), frame({ opcode: 3 })));
    const first = core.nextEvent();
    assert.ok(first !== WS_NEED_DATA && first.type === "text");
    assert.equal(first.data, "ok");
    assert.throws(() => core.nextEvent(), { closeCode: 1002 });
  });
});

describe("receiving: message size limit", () => {
  test("a frame declaring more than maxMessageSize → 1009 before its payload arrives", () => {
    const f = binary(Buffer.alloc(101));
    expectFailure(f.subarray(0, 8), 1009, "TSGI_ERR_WS_MESSAGE_TOO_BIG", { maxMessageSize: 100 });
  });

  test("exactly maxMessageSize is accepted", () => {
    const core = new WebSocketCore({ maxMessageSize: 100 });
    core.receiveData(concat(binary(Buffer.alloc(60), { fin: false }), cont(Buffer.alloc(40))));
    assert.equal(drain(core).length, 1);
  });

  test("fragments adding up to more → 1009 at the header of the fragment that passes the limit", () => {
    const f = cont(Buffer.alloc(41));
    expectFailure(
      [binary(Buffer.alloc(60), { fin: false }), f.subarray(0, 6)],
      1009,
      "TSGI_ERR_WS_MESSAGE_TOO_BIG",
      { maxMessageSize: 100 },
    );
  });

  test("the default is 16 MiB", () => {
    assert.equal(new WebSocketCore().maxMessageSize, 16 * 1024 * 1024);
    const f = binary("", { lengthBits: 64 });
    f.writeUInt32BE(16 * 1024 * 1024 + 1, 6);
    expectFailure(f, 1009, "TSGI_ERR_WS_MESSAGE_TOO_BIG");
  });
});

describe("receiving: UTF-8", () => {
  const invalid: [string, number[]][] = [
    ["lone continuation", [0x80]],
    ["overlong C0 80", [0xc0, 0x80]],
    ["overlong E0 80 80", [0xe0, 0x80, 0x80]],
    ["surrogate ED A0 80", [0xed, 0xa0, 0x80]],
    ["over U+10FFFF F4 90 80 80", [0xf4, 0x90, 0x80, 0x80]],
    ["F5", [0xf5, 0x80, 0x80, 0x80]],
    ["FF", [0xff]],
    ["truncated then ASCII", [0xe2, 0x82, 0x41]],
  ];
  for (const [name, seq] of invalid) {
    test(`${name} → 1007`, () => {
      expectFailure(text(Buffer.from([0x61, ...seq, 0x62])), 1007, "TSGI_ERR_WS_INVALID_UTF8");
    });
  }

  test("a sequence split across fragments is fine; a bad one across fragments → 1007", () => {
    const euro = Buffer.from("€");
    const core = new WebSocketCore();
    core.receiveData(
      concat(text(euro.subarray(0, 1), { fin: false }), cont(euro.subarray(1, 2), { fin: false })),
    );
    assert.deepEqual(drain(core), []);
    core.receiveData(cont(euro.subarray(2)));
    assert.deepEqual(drain(core), [{ type: "text", data: "€" }]);
    expectFailure(
      concat(text(euro.subarray(0, 2), { fin: false }), cont(bytes(0x41))),
      1007,
      "TSGI_ERR_WS_INVALID_UTF8",
    );
  });

  test("an incomplete sequence at the end of the final fragment → 1007", () => {
    expectFailure(
      concat(text("ok", { fin: false }), cont(bytes(0xf0, 0x9f, 0x98))),
      1007,
      "TSGI_ERR_WS_INVALID_UTF8",
    );
  });

  test("fails fast: before the rest of the frame arrives", () => {
    const payload = Buffer.concat([Buffer.from("hello "), bytes(0xc3, 0x28), Buffer.alloc(1000, 0x61)]);
    const f = text(payload);
    expectFailure(f.subarray(0, 4 + 4 + 10), 1007, "TSGI_ERR_WS_INVALID_UTF8");
  });

  test("fails fast: on the byte that breaks a sequence split across chunks", () => {
    const payload = Buffer.concat([bytes(0x61, 0xf0, 0x90), bytes(0x28), Buffer.alloc(100, 0x61)]);
    const f = text(payload);
    const core = new WebSocketCore();
    core.receiveData(Buffer.from(f.subarray(0, 6 + 3)));
    assert.equal(core.nextEvent(), WS_NEED_DATA);
    core.receiveData(Buffer.from(f.subarray(9, 10)));
    assert.throws(() => core.nextEvent(), { closeCode: 1007 });
  });

  test("fails fast: in the first fragment of a message", () => {
    expectFailure(text(bytes(0x61, 0xff), { fin: false }), 1007, "TSGI_ERR_WS_INVALID_UTF8");
  });

  test("binary messages are not checked", () => {
    const core = new WebSocketCore();
    core.receiveData(binary(bytes(0xff, 0xc0)));
    assert.deepEqual(drain(core), [{ type: "binary", data: "ffc0" }]);
  });
});

describe("receiving: control frames and the closing handshake", () => {
  test("ping → event with a pong echoing the payload", () => {
    const core = new WebSocketCore();
    core.receiveData(ping(Buffer.alloc(125, 0x41)));
    const [ev] = drain(core);
    assert.deepEqual(ev, { type: "ping", data: "41".repeat(125), reply: `8a7d${"41".repeat(125)}` });
  });

  test("empty ping", () => {
    const core = new WebSocketCore();
    core.receiveData(ping());
    assert.deepEqual(drain(core), [{ type: "ping", data: "", reply: "8a00" }]);
  });

  test("close while OPEN → echo of the code, CLOSED", () => {
    const core = new WebSocketCore();
    core.receiveData(close(1001, "going"));
    assert.deepEqual(drain(core), [{ type: "close", code: 1001, reason: "going", reply: "880203e9" }]);
    assert.equal(core.state, "CLOSED");
    assert.throws(() => core.sendText("late"), WebSocketUsageError);
    assert.throws(() => core.sendClose(1000), WebSocketUsageError);
  });

  test("empty close → code 1005 and an empty echo", () => {
    const core = new WebSocketCore();
    core.receiveData(close());
    assert.deepEqual(drain(core), [{ type: "close", code: 1005, reason: "", reply: "8800" }]);
  });

  test("close answering ours → reply null; pings meanwhile get no pong", () => {
    const core = new WebSocketCore();
    assert.equal(hex(core.sendClose(1000)), "880203e8");
    assert.equal(core.state, "LOCAL_CLOSING");
    core.receiveData(concat(text("still"), ping("x"), close(1000)));
    assert.deepEqual(drain(core), [
      { type: "text", data: "still" },
      { type: "ping", data: "78", reply: null },
      { type: "close", code: 1000, reason: "", reply: null },
    ]);
    assert.equal(core.state, "CLOSED");
  });

  test("frames after the peer's close are ignored", () => {
    const core = new WebSocketCore();
    core.receiveData(concat(close(1000), text("ignored"), frame({ opcode: 3 })));
    assert.equal(drain(core).length, 1);
    core.receiveData(text("more"));
    assert.equal(core.nextEvent(), WS_NEED_DATA);
    assert.equal(core.bufferedBytes, 0);
  });

  test("close with a 1-byte payload → 1002", () => {
    expectFailure(frame({ opcode: 8, payload: bytes(0x03) }), 1002, "TSGI_ERR_WS_BAD_CLOSE_CODE");
  });

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    test(`close code ${code} → 1002`, () => {
      expectFailure(close(code), 1002, "TSGI_ERR_WS_BAD_CLOSE_CODE");
    });
  }

  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
    test(`close code ${code} is accepted and echoed`, () => {
      const core = new WebSocketCore();
      core.receiveData(close(code));
      assert.deepEqual(drain(core), [
        { type: "close", code, reason: "", reply: `8802${code.toString(16).padStart(4, "0")}` },
      ]);
    });
  }

  test("close reason that is not UTF-8 → 1007", () => {
    const f = frame({ opcode: 8, payload: bytes(0x03, 0xe8, 0x61, 0xed, 0xa0, 0x80) });
    expectFailure(f, 1007, "TSGI_ERR_WS_INVALID_UTF8");
  });
});

describe("after a protocol error", () => {
  test("NEED_DATA forever; sends until the one close frame (answers to earlier messages may go out first)", () => {
    const core = expectFailure(concat(frame({ opcode: 3 }), text("x")), 1002, "TSGI_ERR_WS_BAD_OPCODE");
    assert.equal(core.state, "CLOSED");
    core.receiveData(text("more"));
    assert.equal(core.nextEvent(), WS_NEED_DATA);
    assert.equal(core.bufferedBytes, 0);
    assert.equal(core.unparsedBytes, 0);
    assert.deepEqual(core.sendText("x").map(hex), ["810178"]);
    assert.deepEqual(core.sendBinary(bytes(1)).map(hex), ["820101"]);
    assert.equal(core.closeFrameSent, false);
    assert.equal(hex(core.sendClose(1002)), "880203ea");
    assert.equal(core.state, "CLOSED");
    assert.throws(() => core.sendText("x"), WebSocketUsageError);
    assert.throws(() => core.sendBinary(bytes(1)), WebSocketUsageError);
    assert.throws(() => core.sendPing(), WebSocketUsageError);
    assert.throws(() => core.sendClose(1002), WebSocketUsageError);
  });

  test("after dispose(), nothing can be sent", () => {
    const core = new WebSocketCore();
    core.dispose();
    assert.throws(() => core.sendText("x"), WebSocketUsageError);
    assert.throws(() => core.sendPing(), WebSocketUsageError);
  });
});

describe("large and fragmented messages", () => {
  test("a partial message does not count as unparsed input; it is gathered as it arrives", () => {
    const core = new WebSocketCore();
    const payload = Buffer.alloc(200_000, 7);
    const wire = binary(payload);
    core.receiveData(Buffer.from(wire.subarray(0, 70_000)));
    assert.equal(core.nextEvent(), WS_NEED_DATA);
    // The payload read so far is held for the message, not waiting to be parsed.
    assert.equal(core.unparsedBytes, 0);
    assert.equal(core.bufferedBytes, 70_000 - 14);
    core.receiveData(Buffer.from(wire.subarray(70_000, 140_000)));
    core.receiveData(Buffer.from(wire.subarray(140_000)));
    const ev = core.nextEvent();
    assert.ok(ev !== WS_NEED_DATA && ev.type === "binary");
    assert.ok(Buffer.from(ev.data).equals(payload));
    // Exactly the declared length: the final frame's header says where the message ends.
    assert.equal(ev.data.buffer.byteLength, payload.length);
    assert.equal(core.bufferedBytes, 0);
  });

  test("fragments of every size reassemble byte for byte, text split mid-character too", () => {
    for (const size of [1, 3, 64, 1000, 70_000]) {
      const core = new WebSocketCore();
      const message = "é✓abc".repeat(20_000);
      const bytesOf = Buffer.from(message);
      const frames: Buffer[] = [];
      for (let at = 0; at < bytesOf.length; at += size) {
        const end = Math.min(at + size, bytesOf.length);
        frames.push(
          frame({
            opcode: at === 0 ? 1 : 0,
            fin: end === bytesOf.length,
            payload: bytesOf.subarray(at, end),
          }),
        );
      }
      core.receiveData(Buffer.concat(frames));
      const ev = core.nextEvent();
      assert.ok(ev !== WS_NEED_DATA && ev.type === "text", `fragments of ${size}`);
      assert.equal(ev.data, message, `fragments of ${size}`);
    }
  });

  test("one byte over maxMessageSize in fragments fails with 1009", () => {
    const limit = 100_000;
    const frames = [binary(Buffer.alloc(60_000), { fin: false }), cont(Buffer.alloc(40_001))];
    expectFailure(frames, 1009, "TSGI_ERR_WS_MESSAGE_TOO_BIG", { maxMessageSize: limit });
    const ok = new WebSocketCore({ maxMessageSize: limit });
    ok.receiveData(Buffer.concat([binary(Buffer.alloc(60_000), { fin: false }), cont(Buffer.alloc(40_000))]));
    const ev = ok.nextEvent();
    assert.ok(ev !== WS_NEED_DATA && ev.type === "binary" && ev.data.length === limit);
  });
});

describe("sending", () => {
  test("text and binary frames, unmasked, one buffer each when small", () => {
    const core = new WebSocketCore();
    assert.deepEqual(core.sendText("Hello").map(hex), ["810548656c6c6f"]);
    assert.deepEqual(core.sendText("€").map(hex), ["8103e282ac"]);
    assert.deepEqual(core.sendBinary(bytes(1, 2)).map(hex), ["82020102"]);
    assert.deepEqual(core.sendText("").map(hex), ["8100"]);
  });

  test("minimal length encoding at 125 / 126 / 65535 / 65536", () => {
    const core = new WebSocketCore();
    const headerOf = (n: number) =>
      join(core.sendBinary(Buffer.alloc(n)))
        .subarray(0, 10)
        .toString("hex");
    assert.equal(headerOf(125).slice(0, 4), "827d");
    assert.equal(headerOf(126).slice(0, 8), "827e007e");
    assert.equal(headerOf(65535).slice(0, 8), "827effff");
    assert.equal(headerOf(65536), "827f0000000000010000");
    for (const n of [125, 126, 65535, 65536]) {
      const out = join(core.sendText("a".repeat(n)));
      assert.equal(out.length, n + (n < 126 ? 2 : n < 65536 ? 4 : 10));
    }
  });

  test("short text: ASCII, a character outside it late in the string, lone surrogates, up to the 125/126 edge", () => {
    const core = new WebSocketCore();
    const cases = [
      "a",
      `${"x".repeat(124)}\x7f`,
      `${"x".repeat(40)}é`,
      `${"x".repeat(124)}é`, // 126 bytes: the 2-byte length form
      "x".repeat(125),
      "x".repeat(126),
      "a\ud800b", // a lone surrogate is sent as U+FFFD, as Buffer.from does
      "日本語",
    ];
    for (const text of cases) {
      const payload = Buffer.from(text, "utf8");
      const n = payload.length;
      const header = n < 126 ? Buffer.from([0x81, n]) : Buffer.from([0x81, 126, n >> 8, n & 0xff]);
      assert.deepEqual(join(core.sendText(text)), Buffer.concat([header, payload]), JSON.stringify(text));
    }
  });

  test("unmasking: every payload size up to 300 and every split point give the client's bytes back", () => {
    const client = new WebSocketCore({ client: true });
    for (let n = 0; n <= 300; n += n < 40 ? 1 : 37) {
      const payload = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));
      const frame = join(client.sendBinary(payload));
      for (const cut of [0, 1, 3, 6, 7, 9, Math.floor(frame.length / 2), frame.length - 1]) {
        if (cut > frame.length) continue;
        const server = new WebSocketCore();
        // Fresh copies at odd offsets: the core unmasks in place, word-wise on aligned stretches.
        const a = Buffer.alloc(cut + 1).subarray(1);
        frame.copy(a, 0, 0, cut);
        const b = Buffer.alloc(frame.length - cut + 3).subarray(3);
        frame.copy(b, 0, cut);
        server.receiveData(a);
        server.receiveData(b);
        const event = server.nextEvent();
        assert.ok(event !== WS_NEED_DATA && event.type === "binary", `n=${n} cut=${cut}`);
        assert.deepEqual(Buffer.from(event.data), payload, `n=${n} cut=${cut}`);
      }
    }
  });

  test("large binary messages are [header, payload] without copying", () => {
    const core = new WebSocketCore();
    const payload = Buffer.alloc(100_000, 1);
    const out = core.sendBinary(payload);
    assert.equal(out.length, 2);
    assert.equal(out[1], payload);
  });

  test("ping, pong and their 125-byte limit", () => {
    const core = new WebSocketCore();
    assert.equal(hex(core.sendPing()), "8900");
    assert.equal(hex(core.sendPing(bytes(1))), "890101");
    assert.equal(hex(core.sendPong(bytes(2))), "8a0102");
    assert.equal(core.sendPing(Buffer.alloc(125)).length, 127);
    assert.throws(() => core.sendPing(Buffer.alloc(126)), WebSocketUsageError);
    assert.throws(() => core.sendPong(Buffer.alloc(126)), WebSocketUsageError);
  });

  test("sendClose: payloads and the codes and reasons it refuses", () => {
    assert.equal(hex(new WebSocketCore().sendClose()), "8800");
    assert.equal(hex(new WebSocketCore().sendClose(1000)), "880203e8");
    assert.equal(hex(new WebSocketCore().sendClose(4000, "bye")), "88050fa0627965");
    assert.equal(new WebSocketCore().sendClose(1000, `${"é".repeat(61)}a`).length, 2 + 2 + 123);
    for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5]) {
      assert.throws(() => new WebSocketCore().sendClose(code), WebSocketUsageError, String(code));
    }
    assert.throws(() => new WebSocketCore().sendClose(1000, "a".repeat(124)), WebSocketUsageError);
    assert.throws(() => new WebSocketCore().sendClose(undefined, "why"), WebSocketUsageError);
    const core = new WebSocketCore();
    core.sendClose();
    assert.throws(() => core.sendClose(), WebSocketUsageError);
    assert.throws(() => core.sendText("x"), WebSocketUsageError);
  });
});

describe("client mode", () => {
  test("frames are masked with a fresh key and decode on a server core", () => {
    const client = new WebSocketCore({ client: true });
    const a = join(client.sendText("Hello"));
    const b = join(client.sendText("Hello"));
    assert.equal(a[0], 0x81);
    assert.equal(a[1], 0x85);
    assert.notEqual(a.subarray(2, 6).toString("hex"), b.subarray(2, 6).toString("hex"));
    const server = new WebSocketCore();
    server.receiveData(concat(a, b));
    assert.deepEqual(drain(server), [
      { type: "text", data: "Hello" },
      { type: "text", data: "Hello" },
    ]);
  });

  test("round trips of every size class both ways, then a closing handshake", () => {
    const client = new WebSocketCore({ client: true });
    const server = new WebSocketCore();
    for (const n of [0, 1, 125, 126, 1000, 65535, 65536, 200_000]) {
      const payload = Buffer.alloc(n);
      for (let i = 0; i < n; i++) payload[i] = (i * 7) & 0xff;
      server.receiveData(join(client.sendBinary(payload)));
      const got = server.nextEvent();
      assert.ok(got !== WS_NEED_DATA && got.type === "binary");
      assert.deepEqual(Buffer.from(got.data), payload);
      client.receiveData(join(server.sendText("x".repeat(n))));
      const echoed = client.nextEvent();
      assert.ok(echoed !== WS_NEED_DATA && echoed.type === "text");
      assert.equal(echoed.data, "x".repeat(n));
    }
    server.receiveData(client.sendClose(1000, "done"));
    const [ev] = drain(server);
    assert.ok(ev?.type === "close" && ev.reply !== null);
    client.receiveData(Buffer.from(ev.reply, "hex"));
    assert.deepEqual(drain(client), [{ type: "close", code: 1000, reason: "", reply: null }]);
    assert.equal(client.state, "CLOSED");
  });
});
