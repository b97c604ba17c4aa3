/**
 * permessage-deflate (src/websocket/deflate.ts and its use in core.ts): the
 * negotiation table, round trips between a client-mode and a server-mode
 * core with and without context takeover, hand-built compressed frames, and
 * the limits that stop a decompression bomb.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as zlib from "node:zlib";
import {
  type DeflateParams,
  negotiateDeflate,
  WebSocketCore,
  type WebSocketCoreOptions,
  WS_NEED_DATA,
} from "../../src/websocket/index.ts";
import { binary, cont, drain, expectFailure, frame, ping, text } from "./frames.ts";

const join = (frames: Uint8Array[]) => Buffer.concat(frames);

/** Raw deflate of `data` as a permessage-deflate payload (sync flush, tail removed). */
function compress(data: Uint8Array | string): Buffer {
  const out = zlib.deflateRawSync(typeof data === "string" ? Buffer.from(data) : data, {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  assert.equal(out.subarray(-4).toString("hex"), "0000ffff");
  return out.subarray(0, -4);
}

const DEFAULTS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

describe("negotiateDeflate", () => {
  const table: [string, Parameters<typeof negotiateDeflate>[1], string | null, Partial<DeflateParams>?][] = [
    ["", {}, null],
    ["x-webkit-deflate-frame", {}, null],
    ["permessage-deflate", {}, "permessage-deflate", {}],
    ["PerMessage-Deflate", {}, "permessage-deflate", {}],
    ["permessage-deflate; client_max_window_bits", {}, "permessage-deflate", {}],
    [
      "permessage-deflate; client_max_window_bits",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=10",
      { clientMaxWindowBits: 10 },
    ],
    // The client did not allow us to limit its window, and we insist.
    ["permessage-deflate", { clientMaxWindowBits: 10 }, null],
    [
      "permessage-deflate; client_max_window_bits=9",
      {},
      "permessage-deflate; client_max_window_bits=9",
      { clientMaxWindowBits: 9 },
    ],
    [
      "permessage-deflate; client_max_window_bits=8",
      {},
      "permessage-deflate; client_max_window_bits=8",
      { clientMaxWindowBits: 8 },
    ],
    [
      "permessage-deflate; server_max_window_bits=10",
      {},
      "permessage-deflate; server_max_window_bits=10",
      { serverMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; server_max_window_bits="10"',
      {},
      "permessage-deflate; server_max_window_bits=10",
      { serverMaxWindowBits: 10 },
    ],
    [
      "permessage-deflate; server_max_window_bits=14",
      { serverMaxWindowBits: 12 },
      "permessage-deflate; server_max_window_bits=12",
      { serverMaxWindowBits: 12 },
    ],
    [
      "permessage-deflate",
      { serverMaxWindowBits: 12 },
      "permessage-deflate; server_max_window_bits=12",
      { serverMaxWindowBits: 12 },
    ],
    // zlib cannot compress with an 8-bit window: decline, take the next offer.
    ["permessage-deflate; server_max_window_bits=8", {}, null],
    ["permessage-deflate; server_max_window_bits=8, permessage-deflate", {}, "permessage-deflate", {}],
    ["permessage-deflate; server_max_window_bits", {}, null],
    ["permessage-deflate; server_max_window_bits=16", {}, null],
    ["permessage-deflate; server_max_window_bits=7", {}, null],
    ["permessage-deflate; server_max_window_bits=010", {}, null],
    ["permessage-deflate; client_max_window_bits=abc", {}, null],
    [
      "permessage-deflate; server_no_context_takeover",
      {},
      "permessage-deflate; server_no_context_takeover",
      { serverNoContextTakeover: true },
    ],
    [
      "permessage-deflate; client_no_context_takeover",
      {},
      "permessage-deflate; client_no_context_takeover",
      { clientNoContextTakeover: true },
    ],
    [
      "permessage-deflate",
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ],
    ["permessage-deflate; server_no_context_takeover=1", {}, null],
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}, null],
    ["permessage-deflate; unknown_param", {}, null],
    [
      "permessage-deflate; unknown_param, permessage-deflate; client_no_context_takeover",
      {},
      "permessage-deflate; client_no_context_takeover",
      { clientNoContextTakeover: true },
    ],
    [
      'x-foo; a="b, c", permessage-deflate ; server_max_window_bits = 11 ;client_max_window_bits',
      {},
      "permessage-deflate; server_max_window_bits=11",
      { serverMaxWindowBits: 11 },
    ],
    ["permessage-deflate,, , permessage-deflate", {}, "permessage-deflate", {}],
    // Malformed lists: nothing in them can be trusted.
    ["permessage-deflate; ", {}, null],
    ['permessage-deflate; server_max_window_bits="10', {}, null],
    ["permessage-deflate permessage-deflate", {}, null],
  ];
  for (const [header, config, response, params] of table) {
    test(`${JSON.stringify(header)} with ${JSON.stringify(config)}`, () => {
      const result = negotiateDeflate(header, config);
      if (response === null) {
        assert.equal(result, null);
        return;
      }
      assert.ok(result);
      assert.equal(result.response, response);
      assert.deepEqual(result.params, { ...DEFAULTS, ...params });
    });
  }

  test("config window bits out of range are refused", () => {
    assert.throws(() => negotiateDeflate("permessage-deflate", { serverMaxWindowBits: 8 }), RangeError);
    assert.throws(() => negotiateDeflate("permessage-deflate", { clientMaxWindowBits: 16 }), RangeError);
  });
});

/** A client-mode and a server-mode core that agreed on `params`. */
function pair(params: DeflateParams, more: WebSocketCoreOptions = {}) {
  return {
    client: new WebSocketCore({ client: true, deflate: params, ...more }),
    server: new WebSocketCore({ deflate: params, ...more }),
  };
}

function transfer(to: WebSocketCore, frames: Uint8Array[]) {
  to.receiveData(join(frames));
  return drain(to);
}

describe("compressed round trips", () => {
  // Messages that share most of their text, so a kept context compresses the later ones far better.
  const base = JSON.stringify({
    users: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `user ${i}` })),
  });
  const messages = [base, `${base}!`, `é${base}`, base];

  const cases: [string, DeflateParams][] = [
    ["context takeover both ways", DEFAULTS],
    ["no context takeover", { ...DEFAULTS, serverNoContextTakeover: true, clientNoContextTakeover: true }],
    ["10-bit windows", { ...DEFAULTS, serverMaxWindowBits: 10, clientMaxWindowBits: 10 }],
    [
      "9-bit windows, no context",
      { ...DEFAULTS, serverMaxWindowBits: 9, clientMaxWindowBits: 9, serverNoContextTakeover: true },
    ],
  ];
  for (const [name, params] of cases) {
    test(name, () => {
      const { client, server } = pair(params);
      const sizes: number[] = [];
      for (const m of messages) {
        const up = client.sendText(m);
        assert.equal(up.length, 1);
        assert.equal(up[0]![0], 0xc1, "RSV1 on the frame");
        assert.deepEqual(transfer(server, up), [{ type: "text", data: m }]);
        const down = server.sendText(m);
        assert.equal(down[0]![0], 0xc1);
        sizes.push(join(down).length);
        assert.deepEqual(transfer(client, down), [{ type: "text", data: m }]);
        const bin = Buffer.from(m.repeat(3));
        const got = transfer(client, server.sendBinary(bin));
        assert.deepEqual(got, [{ type: "binary", data: bin.toString("hex") }]);
        assert.deepEqual(transfer(server, client.sendBinary(bin)), got);
      }
      if (params.serverNoContextTakeover)
        assert.equal(sizes[3], sizes[0], "same message, same size without context");
      else if (params.serverMaxWindowBits === 15) {
        // (With a small window the ~1 KB messages do not fit in it, so only 15 bits shows the gain.)
        assert.ok(sizes[3]! < sizes[0]! / 3, `context makes the repeat cheaper: ${sizes}`);
      }
      client.dispose();
      server.dispose();
    });
  }

  test("below the threshold messages go uncompressed", () => {
    const { client, server } = pair(DEFAULTS);
    assert.equal(server.sendText("a".repeat(1023))[0]![0], 0x81);
    assert.equal(server.sendText("a".repeat(1024))[0]![0], 0xc1);
    assert.equal(server.sendBinary(Buffer.alloc(10))[0]![0], 0x82);
    const custom = new WebSocketCore({ deflate: DEFAULTS, compressionThreshold: 0 });
    assert.equal(custom.sendText("")[0]![0], 0xc1);
    const up = client.sendText("short");
    assert.equal(up[0]![0] & 0x40, 0);
    assert.deepEqual(transfer(server, up), [{ type: "text", data: "short" }]);
  });
});

describe("receiving compressed frames", () => {
  const deflate = DEFAULTS;

  test("the RFC 7692 §7.2.3.1 example: 'Hello' as c1 07 f2 48 cd c9 c9 07 00", () => {
    const core = new WebSocketCore({ deflate, client: true });
    core.receiveData(Buffer.from("c107f248cdc9c90700", "hex"));
    assert.deepEqual(drain(core), [{ type: "text", data: "Hello" }]);
  });

  test("a compressed message in fragments, RSV1 on the first only, a ping in between, any split", () => {
    const payload = compress("Hello, fragmented and compressed world! ".repeat(20));
    const a = payload.subarray(0, 7);
    const b = payload.subarray(7, 20);
    const c = payload.subarray(20);
    const stream = Buffer.concat([
      text(a, { fin: false, rsv: 4 }),
      ping("x"),
      cont(b, { fin: false }),
      cont(c),
    ]);
    for (const step of [1, 3, stream.length]) {
      const core = new WebSocketCore({ deflate });
      const events = [];
      for (let i = 0; i < stream.length; i += step) {
        core.receiveData(Buffer.from(stream.subarray(i, i + step)));
        events.push(...drain(core));
      }
      assert.deepEqual(events, [
        { type: "ping", data: "78", reply: "8a0178" },
        { type: "text", data: "Hello, fragmented and compressed world! ".repeat(20) },
      ]);
    }
  });

  test("an uncompressed message between compressed ones", () => {
    const core = new WebSocketCore({ deflate });
    core.receiveData(
      Buffer.concat([binary(compress("abc"), { rsv: 4 }), binary("plain"), text(compress("x"), { rsv: 4 })]),
    );
    assert.deepEqual(drain(core), [
      { type: "binary", data: Buffer.from("abc").toString("hex") },
      { type: "binary", data: Buffer.from("plain").toString("hex") },
      { type: "text", data: "x" },
    ]);
  });

  test("corrupt compressed data → 1007", () => {
    expectFailure(
      binary(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]), { rsv: 4 }),
      1007,
      "TSGI_ERR_WS_BAD_COMPRESSION",
      {
        deflate,
      },
    );
  });

  test("inflated text that is not UTF-8 → 1007", () => {
    expectFailure(
      text(compress(Buffer.from([0x61, 0xc3, 0x28])), { rsv: 4 }),
      1007,
      "TSGI_ERR_WS_INVALID_UTF8",
      {
        deflate,
      },
    );
  });

  test("the limit applies to the inflated size: exactly the limit passes, one more byte → 1009", () => {
    const ok = new WebSocketCore({ deflate, maxMessageSize: 5000 });
    ok.receiveData(binary(compress(Buffer.alloc(5000, 1)), { rsv: 4 }));
    const ev = ok.nextEvent();
    assert.ok(ev !== WS_NEED_DATA && ev.type === "binary" && ev.data.length === 5000);
    expectFailure(binary(compress(Buffer.alloc(5001, 1)), { rsv: 4 }), 1009, "TSGI_ERR_WS_MESSAGE_TOO_BIG", {
      deflate,
      maxMessageSize: 5000,
    });
  });

  test("decompression bomb: 100 MB of zeros → 1009 quickly, without inflating it all", () => {
    // Sync-flushed raw deflate blocks can be repeated: 100 copies of 1 MiB of zeros.
    // (each copy keeps its 00 00 FF FF: only the message's last one is removed on the wire).
    const mib = zlib.deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const bomb = Buffer.concat(new Array(100).fill(mib)).subarray(0, -4);
    assert.ok(bomb.length < 200_000, `bomb is ${bomb.length} bytes`);
    const f = binary(bomb, { rsv: 4 });
    const before = process.memoryUsage().arrayBuffers;
    const start = performance.now();
    let peak = 0;
    const core = new WebSocketCore({ deflate });
    core.receiveData(f);
    assert.throws(
      () => {
        try {
          core.nextEvent();
        } finally {
          peak = process.memoryUsage().arrayBuffers - before;
        }
      },
      { closeCode: 1009, code: "TSGI_ERR_WS_MESSAGE_TOO_BIG" },
    );
    const ms = performance.now() - start;
    assert.ok(ms < 1500, `took ${ms} ms`);
    assert.ok(peak < 48 * 1024 * 1024, `held ${peak} bytes`);
    // A small limit stops it far earlier.
    const small = new WebSocketCore({ deflate, maxMessageSize: 64 * 1024 });
    small.receiveData(binary(bomb, { rsv: 4 }));
    assert.throws(() => small.nextEvent(), { closeCode: 1009 });
    core.dispose();
    small.dispose();
  });

  test("client mode sends masked compressed frames a server core reads", () => {
    const client = new WebSocketCore({ client: true, deflate });
    const out = join(client.sendText("z".repeat(5000)));
    assert.equal(out[0], 0xc1);
    assert.equal(out[1]! & 0x80, 0x80);
    const server = new WebSocketCore({ deflate });
    server.receiveData(out);
    assert.deepEqual(drain(server), [{ type: "text", data: "z".repeat(5000) }]);
  });

  test("a frame with RSV1 and no deflate agreed is still a protocol error", () => {
    expectFailure(frame({ opcode: 1, rsv: 4, payload: compress("hi") }), 1002, "TSGI_ERR_WS_RESERVED_BITS");
  });
});
