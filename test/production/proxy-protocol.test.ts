/**
 * The sans-IO PROXY protocol parser, byte by byte: v1 and v2 headers from
 * HAProxy's specification, each also fed split at every byte boundary; the
 * bytes after the header kept; LOCAL and UNKNOWN; TLVs skipped; every way a
 * header can be wrong refused without waiting for more bytes.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  NEED_MORE,
  type ProxyPreamble,
  ProxyPreambleParser,
  ProxyProtocolError,
} from "../../src/server/proxy-protocol.ts";
import { inet4, v2 } from "./support.ts";

const SIG = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

/** Feeds `bytes` in pieces cut at `cuts`; returns the preamble and the rest. */
function parse(bytes: Buffer, cuts: number[] = []): { preamble: ProxyPreamble; rest: string } {
  const parser = new ProxyPreambleParser();
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    const result = parser.receiveData(bytes.subarray(start, end));
    start = end;
    if (result !== NEED_MORE)
      return {
        preamble: result,
        rest: parser.rest.toString("latin1") + bytes.subarray(end).toString("latin1"),
      };
  }
  throw new Error("incomplete");
}

/** Every split of `bytes` into two pieces gives the same answer as one piece. */
function parseEverySplit(bytes: Buffer): { preamble: ProxyPreamble; rest: string } {
  const whole = parse(bytes);
  for (let cut = 1; cut < bytes.length; cut++)
    assert.deepEqual(parse(bytes, [cut]), whole, `split at ${cut}`);
  // And one byte at a time.
  assert.deepEqual(
    parse(
      bytes,
      Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
    ),
    whole,
  );
  return whole;
}

function refuses(bytes: Buffer | string, pattern: RegExp): void {
  const parser = new ProxyPreambleParser();
  assert.throws(
    () => parser.receiveData(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes),
    (err: unknown) =>
      err instanceof ProxyProtocolError &&
      err.code === "TSGI_ERR_PROXY_PROTOCOL" &&
      pattern.test(err.message),
  );
}

describe("PROXY protocol v1", () => {
  test("TCP4 with the HTTP bytes after it, at every split", () => {
    const { preamble, rest } = parseEverySplit(
      Buffer.from("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n", "latin1"),
    );
    assert.deepEqual(preamble, {
      version: 1,
      command: "proxy",
      source: { address: "192.0.2.1", port: 56324 },
      destination: { address: "198.51.100.2", port: 443 },
    });
    assert.equal(rest, "GET / HTTP/1.1\r\n");
  });

  test("TCP6", () => {
    const { preamble } = parse(Buffer.from("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n", "latin1"));
    assert.deepEqual(preamble.source, { address: "2001:db8::1", port: 1 });
    assert.deepEqual(preamble.destination, { address: "::1", port: 65535 });
  });

  test("UNKNOWN: keep the socket's addresses, the rest of the line ignored", () => {
    for (const line of ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"]) {
      const { preamble, rest } = parse(Buffer.from(`${line}x`, "latin1"));
      assert.equal(preamble.command, "local");
      assert.equal(preamble.source, null);
      assert.equal(rest, "x");
    }
  });

  test("the longest line allowed (107 bytes with CRLF) passes; one more byte is refused", () => {
    const max = `PROXY UNKNOWN ${"x".repeat(107 - 16)}\r\n`;
    assert.equal(max.length, 107);
    assert.equal(parse(Buffer.from(max, "latin1")).preamble.command, "local");
    refuses(`PROXY UNKNOWN ${"x".repeat(107 - 15)}\r\n`, /107/);
    // Without a line end: refused once 107 bytes are in, not waited on.
    refuses(`PROXY UNKNOWN ${"x".repeat(100)}`, /107/);
  });

  test("malformed lines are refused", () => {
    refuses("GET / HTTP/1.1\r\n\r\n", /does not start/);
    refuses("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", /CRLF/);
    refuses("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", /PROXY TCP4\|TCP6/);
    refuses("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", /PROXY TCP4\|TCP6/);
    refuses("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", /PROXY TCP4\|TCP6/);
    refuses("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", /not TCP4/);
    refuses("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", /not TCP6/);
    refuses("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", /port/);
    refuses("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", /port/);
    refuses("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", /port/);
    refuses("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", /does not start/);
  });

  test("a wrong first byte is refused at once; a right prefix waits", () => {
    refuses("G", /does not start/);
    const parser = new ProxyPreambleParser();
    assert.equal(parser.receiveData(Buffer.from("PRO")), NEED_MORE);
    assert.equal(new ProxyPreambleParser().receiveData(SIG.subarray(0, 5)), NEED_MORE);
  });
});

describe("PROXY protocol v2", () => {
  test("PROXY TCP over IPv4, at every split, with the rest kept", () => {
    const bytes = Buffer.concat([
      v2(1, 0x11, inet4("203.0.113.9", "10.0.0.1", 40000, 8443)),
      Buffer.from("GET /"),
    ]);
    const { preamble, rest } = parseEverySplit(bytes);
    assert.deepEqual(preamble, {
      version: 2,
      command: "proxy",
      source: { address: "203.0.113.9", port: 40000 },
      destination: { address: "10.0.0.1", port: 8443 },
    });
    assert.equal(rest, "GET /");
  });

  test("PROXY TCP over IPv6: addresses in RFC 5952 form", () => {
    const cases: [string, string][] = [
      ["20010db8000000000000000000000001", "2001:db8::1"],
      ["00000000000000000000000000000001", "::1"],
      ["00000000000000000000ffffc0000201", "::ffff:192.0.2.1"],
      ["20010db8000100000000000100000001", "2001:db8:1::1:0:1"],
      ["20010db8000100010001000100010001", "2001:db8:1:1:1:1:1:1"],
      ["00000000000000000000000000000000", "::"],
    ];
    for (const [hex, text] of cases) {
      const block = Buffer.alloc(36);
      Buffer.from(hex, "hex").copy(block, 0);
      Buffer.from(hex, "hex").copy(block, 16);
      block.writeUInt16BE(1234, 32);
      block.writeUInt16BE(80, 34);
      const { preamble } = parse(v2(1, 0x21, block));
      assert.deepEqual(preamble.source, { address: text, port: 1234 }, hex);
      assert.deepEqual(preamble.destination, { address: text, port: 80 }, hex);
    }
  });

  test("TLVs after the addresses are skipped (and split anywhere)", () => {
    // PP2_TYPE_ALPN "h2" and PP2_TYPE_AUTHORITY "example.com".
    const tlvs = Buffer.concat([
      Buffer.from([0x01, 0x00, 0x02]),
      Buffer.from("h2"),
      Buffer.from([0x02, 0x00, 0x0b]),
      Buffer.from("example.com"),
    ]);
    const bytes = Buffer.concat([
      v2(1, 0x11, Buffer.concat([inet4("1.2.3.4", "5.6.7.8", 1, 2), tlvs])),
      Buffer.from("rest"),
    ]);
    const { preamble, rest } = parseEverySplit(bytes);
    assert.deepEqual(preamble.source, { address: "1.2.3.4", port: 1 });
    assert.equal(rest, "rest");
  });

  test("LOCAL (health checks): the address block is ignored", () => {
    const { preamble, rest } = parse(Buffer.concat([v2(0, 0x00, Buffer.alloc(0)), Buffer.from("GET")]));
    assert.deepEqual(preamble, { version: 2, command: "local", source: null, destination: null });
    assert.equal(rest, "GET");
    // LOCAL with addresses present: still ignored.
    assert.equal(parse(v2(0, 0x11, inet4("1.2.3.4", "5.6.7.8", 1, 2))).preamble.command, "local");
  });

  test("PROXY with an unspecified family, or a unix-socket client, keeps the socket's addresses", () => {
    assert.equal(parse(v2(1, 0x00, Buffer.alloc(0))).preamble.command, "local");
    assert.equal(parse(v2(1, 0x31, Buffer.alloc(216))).preamble.command, "local");
  });

  test("malformed headers are refused", () => {
    const good = v2(1, 0x11, inet4("1.2.3.4", "5.6.7.8", 1, 2));
    const withByte = (at: number, value: number) => {
      const b = Buffer.from(good);
      b[at] = value;
      return b;
    };
    refuses(withByte(12, 0x11), /version other than 2/);
    refuses(withByte(12, 0x22), /unknown command/);
    refuses(withByte(13, 0x41), /unknown address family/);
    refuses(withByte(13, 0x13), /unknown address family/);
    refuses(withByte(13, 0x12), /datagram/);
    // An address block too short for its family: refused from the 16-byte header alone.
    refuses(v2(1, 0x21, Buffer.alloc(12)).subarray(0, 16), /shorter/);
    refuses(withByte(5, 0x00), /does not start/);
  });

  test("the header waits for its declared length", () => {
    const bytes = v2(1, 0x11, inet4("1.2.3.4", "5.6.7.8", 1, 2));
    const parser = new ProxyPreambleParser();
    assert.equal(parser.receiveData(bytes.subarray(0, bytes.length - 1)), NEED_MORE);
    assert.notEqual(parser.receiveData(bytes.subarray(bytes.length - 1)), NEED_MORE);
    assert.equal(parser.rest.length, 0);
  });
});
