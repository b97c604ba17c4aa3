/**
 * The PROXY protocol preamble (HAProxy's specification, versions 1 and 2),
 * sans-IO: bytes in, one parsed preamble out, plus the bytes that followed
 * it. A TCP proxy (HAProxy, nginx's stream module, AWS NLB, ...) sends this
 * header once, before the client's first byte, to say which client it is
 * relaying; the server then treats that address as the peer. Only the
 * connection layer decides whether a peer may send one (see
 * src/server/proxy-headers.ts for the trust list).
 *
 * Version 1 is one text line, `PROXY TCP4 SRC DST SPORT DPORT\r\n`, at most
 * 107 bytes. Version 2 is a 16-byte binary header (12-byte signature,
 * version/command, family/transport, length) followed by the addresses and
 * optional TLVs, which we skip: nothing in tsgi reads them yet.
 */

import { isIPv4, isIPv6 } from "node:net"; // pure syntax checks, no I/O
import { TsgiError } from "../http1/tsgi-error.ts";

/** A preamble that breaks the specification; the connection is closed without a response. */
export class ProxyProtocolError extends TsgiError {
  override readonly name = "ProxyProtocolError";
  readonly code = "TSGI_ERR_PROXY_PROTOCOL";
}

/** One end of the relayed connection. */
export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

/** A parsed preamble. */
export interface ProxyPreamble {
  readonly version: 1 | 2;
  /**
   * "proxy": `source` and `destination` describe the client's connection.
   * "local": the proxy speaks for itself (health checks; v2 LOCAL, v1
   * UNKNOWN, or an address family we do not map): keep the socket's own
   * addresses. Both are set only for "proxy".
   */
  readonly command: "proxy" | "local";
  readonly source: ProxyEndpoint | null;
  readonly destination: ProxyEndpoint | null;
}

/** Returned by {@link ProxyPreambleParser.receiveData} until the whole preamble has arrived. */
export const NEED_MORE: unique symbol = Symbol("NEED_MORE");

const V1_PREFIX = Buffer.from("PROXY ", "latin1");
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Spec §2.1: "the maximum line length is 107 characters including the CRLF". */
const V1_MAX = 107;
const V2_HEADER = 16;

/**
 * Reads one preamble. Feed it the connection's first bytes until it returns
 * a preamble; then {@link rest} holds the bytes after it (the start of the
 * HTTP request or TLS handshake). Throws {@link ProxyProtocolError} as soon
 * as the bytes cannot be a valid preamble, without waiting for more.
 *
 * @example
 * const parser = new ProxyPreambleParser();
 * const result = parser.receiveData(Buffer.from("PROXY TCP4 192.0.2.1 192.0.2.2 5000 80\r\nGET / ..."));
 * // result.source → { address: "192.0.2.1", port: 5000 }; parser.rest → "GET / ..."
 */
export class ProxyPreambleParser {
  private buffer: Buffer = Buffer.alloc(0);
  private remainder: Buffer | null = null;

  /** The bytes received after the preamble (empty before it is complete). */
  get rest(): Buffer {
    return this.remainder ?? Buffer.alloc(0);
  }

  /** Adds bytes; returns the preamble once complete, else {@link NEED_MORE}. */
  receiveData(chunk: Uint8Array): ProxyPreamble | typeof NEED_MORE {
    if (this.remainder !== null) throw new ProxyProtocolError("preamble already complete");
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
    const b = this.buffer;
    // Decide the version from as few bytes as have arrived: a prefix of
    // neither signature is refused at once (spec §2: a receiver must not
    // guess, and must not wait for bytes that cannot fix the header).
    const v1 = startsLike(b, V1_PREFIX);
    const v2 = startsLike(b, V2_SIGNATURE);
    if (!v1 && !v2)
      throw new ProxyProtocolError("the connection does not start with a PROXY protocol header");
    if (v1) return this.v1();
    return this.v2();
  }

  private finish(end: number, preamble: ProxyPreamble): ProxyPreamble {
    this.remainder = this.buffer.subarray(end);
    this.buffer = Buffer.alloc(0);
    return preamble;
  }

  private v1(): ProxyPreamble | typeof NEED_MORE {
    const b = this.buffer;
    const lf = b.indexOf(0x0a);
    if (lf === -1) {
      if (b.length >= V1_MAX) throw new ProxyProtocolError("PROXY v1 line longer than 107 bytes");
      return NEED_MORE;
    }
    if (lf + 1 > V1_MAX) throw new ProxyProtocolError("PROXY v1 line longer than 107 bytes");
    if (lf === 0 || b[lf - 1] !== 0x0d) throw new ProxyProtocolError("PROXY v1 line not ended by CRLF");
    const line = b.toString("latin1", 0, lf - 1);
    const parts = line.split(" ");
    const family = parts[1];
    if (family === "UNKNOWN") {
      // §2.1: the rest of an UNKNOWN line is ignored; use the real connection.
      return this.finish(lf + 1, { version: 1, command: "local", source: null, destination: null });
    }
    if (parts.length !== 6 || (family !== "TCP4" && family !== "TCP6"))
      throw new ProxyProtocolError("PROXY v1 line is not `PROXY TCP4|TCP6 SRC DST SPORT DPORT`");
    const valid = family === "TCP4" ? isIPv4 : isIPv6;
    const [, , src, dst, sport, dport] = parts as [string, string, string, string, string, string];
    if (!valid(src) || !valid(dst)) throw new ProxyProtocolError(`PROXY v1 address is not ${family}`);
    return this.finish(lf + 1, {
      version: 1,
      command: "proxy",
      source: { address: src, port: v1Port(sport) },
      destination: { address: dst, port: v1Port(dport) },
    });
  }

  private v2(): ProxyPreamble | typeof NEED_MORE {
    const b = this.buffer;
    if (b.length < V2_HEADER) return NEED_MORE;
    const versionCommand = b[12]!;
    if (versionCommand >> 4 !== 2)
      throw new ProxyProtocolError("PROXY v2 header with a version other than 2");
    const command = versionCommand & 0x0f;
    if (command > 1) throw new ProxyProtocolError("PROXY v2 header with an unknown command");
    const family = b[13]! >> 4;
    const transport = b[13]! & 0x0f;
    const length = b.readUInt16BE(14);
    // Refuse what cannot be right before waiting for `length` bytes of it.
    if (family > 3 || transport > 2)
      throw new ProxyProtocolError("PROXY v2 header with an unknown address family");
    const needed = family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 216 : 0;
    if (command === 1 && length < needed)
      throw new ProxyProtocolError("PROXY v2 address block shorter than its family needs");
    if (b.length < V2_HEADER + length) return NEED_MORE;
    const end = V2_HEADER + length;
    // §2.2: LOCAL ignores the address block; so does PROXY with an
    // unspecified family or transport. A unix-socket client has no address
    // an HTTP app could use, so it is treated the same way.
    if (command === 0 || family === 0 || family === 3 || transport === 0)
      return this.finish(end, { version: 2, command: "local", source: null, destination: null });
    if (transport === 2) throw new ProxyProtocolError("PROXY v2 header for a datagram (UDP) connection");
    const at = V2_HEADER;
    if (family === 1) {
      return this.finish(end, {
        version: 2,
        command: "proxy",
        source: { address: ipv4(b, at), port: b.readUInt16BE(at + 8) },
        destination: { address: ipv4(b, at + 4), port: b.readUInt16BE(at + 10) },
      });
    }
    return this.finish(end, {
      version: 2,
      command: "proxy",
      source: { address: ipv6(b, at), port: b.readUInt16BE(at + 32) },
      destination: { address: ipv6(b, at + 16), port: b.readUInt16BE(at + 34) },
    });
  }
}

/** True if the shorter of `b` and `prefix` is a prefix of the other. */
function startsLike(b: Buffer, prefix: Buffer): boolean {
  const n = Math.min(b.length, prefix.length);
  return b.compare(prefix, 0, n, 0, n) === 0;
}

/** §2.1: a port is a decimal 0..65535 without leading zeroes. */
function v1Port(text: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > 65535)
    throw new ProxyProtocolError("PROXY v1 port is not a number 0-65535");
  return Number(text);
}

function ipv4(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/**
 * The RFC 5952 text of 16 address bytes: lower-case hex, the longest run of
 * two or more zero groups as `::`, and IPv4-mapped addresses as
 * `::ffff:a.b.c.d`, the form Node reports for sockets too.
 */
function ipv6(b: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + 2 * i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${ipv4(b, at + 12)}`;
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
