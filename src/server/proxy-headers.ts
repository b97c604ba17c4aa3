/**
 * Behind a reverse proxy: which peers are trusted to speak for the client
 * (`--forwarded-allow-ips`), and what a trusted chain of `X-Forwarded-For`
 * / `-Proto` / `-Host` or RFC 7239 `Forwarded` headers says about the
 * client. Pure functions over the parsed head; the connection calls
 * {@link applyProxyHeaders} once per request when `--proxy-headers` is on.
 *
 * The rules, spelled out in docs/deploy.md#behind-a-proxy:
 * - Nothing is read unless the socket's peer (or the PROXY protocol's
 *   source) is trusted: anyone can send these headers.
 * - X-Forwarded-* win over Forwarded when both are present: they are what
 *   nginx, cloud load balancers and uvicorn use, and nginx appends to
 *   X-Forwarded-For but passes a client's Forwarded header through
 *   untouched, so reading Forwarded there would let a client pick its address.
 * - Hops are walked from the right (the proxy nearest us) past every trusted
 *   address; the first untrusted one is the client (all trusted: the
 *   leftmost). Left of that, entries are whatever the client sent.
 */

import { BlockList, isIP } from "node:net";
import { trimOWS } from "../http1/chars.ts";
import { TsgiError } from "../http1/tsgi-error.ts";

/** A `--forwarded-allow-ips` entry that is not an IP address, a CIDR block, `*` or `unix`. */
export class ProxyConfigError extends TsgiError {
  override readonly name = "ProxyConfigError";
  readonly code = "TSGI_ERR_PROXY_CONFIG";
}

/**
 * The default trust list: this machine only. uvicorn trusts 127.0.0.1;
 * we add ::1 (a local proxy may connect over either loopback) and unix
 * socket peers (only local processes allowed by the socket file's
 * permissions can connect), as gunicorn does for both.
 */
export const DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1,unix";

/**
 * The peers allowed to speak for clients: IP addresses, CIDR blocks, `unix`
 * for unix-socket peers (whose address is ""), or `*` for everyone.
 *
 * @example
 * const trust = TrustedProxies.parse("10.0.0.0/8, 127.0.0.1, unix");
 * trust.trusts("10.1.2.3");            // true
 * trust.trusts("::ffff:127.0.0.1");    // true (IPv4-mapped)
 * trust.trusts("");                    // true (a unix socket peer)
 */
export class TrustedProxies {
  private constructor(
    private readonly everyone: boolean,
    private readonly unix: boolean,
    private readonly blocks: BlockList,
  ) {}

  /** Parses a comma-separated list (or an array of entries). Throws {@link ProxyConfigError}. */
  static parse(spec: string | readonly string[]): TrustedProxies {
    const entries = (typeof spec === "string" ? spec.split(",") : spec).map((e) => e.trim()).filter(Boolean);
    const blocks = new BlockList();
    let everyone = false;
    let unix = false;
    for (const entry of entries) {
      if (entry === "*") everyone = true;
      else if (entry === "unix") unix = true;
      else {
        const slash = entry.indexOf("/");
        const address = slash === -1 ? entry : entry.slice(0, slash);
        const family = isIP(address);
        const bits = slash === -1 ? null : entry.slice(slash + 1);
        const max = family === 6 ? 128 : 32;
        if (family === 0 || (bits !== null && (!/^[0-9]{1,3}$/.test(bits) || Number(bits) > max)))
          throw new ProxyConfigError(
            `--forwarded-allow-ips: ${JSON.stringify(entry)} is not an IP address, a CIDR block, "unix" or "*"`,
          );
        const type = family === 6 ? "ipv6" : "ipv4";
        if (bits === null) blocks.addAddress(address, type);
        else blocks.addSubnet(address, Number(bits), type);
      }
    }
    return new TrustedProxies(everyone, unix, blocks);
  }

  /** True if `address` (a socket's remoteAddress; "" for a unix socket peer) is trusted. */
  trusts(address: string): boolean {
    if (this.everyone) return true;
    if (address === "") return this.unix;
    const family = isIP(address);
    if (family === 0) return false;
    // BlockList matches IPv4-mapped IPv6 addresses against IPv4 rules itself.
    return this.blocks.check(address, family === 6 ? "ipv6" : "ipv4");
  }
}

/** What a trusted proxy chain says about the client; unset fields keep the connection's own value. */
export interface ForwardedClient {
  address?: string;
  port?: number;
  /** True for https (or wss), false for http (or ws). */
  tls?: boolean;
  /** The Host the client asked for (`host[:port]`). */
  host?: string;
}

/** One hop of a chain: `for`, `proto`, `host` as that hop's proxy recorded them. */
interface Hop {
  for?: string;
  proto?: string;
  host?: string;
}

/**
 * Reads the forwarding headers of a request that came from `peer`. Returns
 * null if the peer is not trusted or the request carries none of them.
 *
 * @example
 * forwardedClient(["X-Forwarded-For", "203.0.113.7, 10.0.0.2", "X-Forwarded-Proto", "https"],
 *   "127.0.0.1", TrustedProxies.parse("127.0.0.1, 10.0.0.0/8"));
 * // → { address: "203.0.113.7", port: 0, tls: true }
 */
export function forwardedClient(
  headers: readonly string[],
  peer: string,
  trusted: TrustedProxies,
): ForwardedClient | null {
  if (!trusted.trusts(peer)) return null;
  const xff: string[] = [];
  const xfp: string[] = [];
  const xfh: string[] = [];
  const forwarded: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    // Quick reject: every name we want starts with x or f.
    const c = name.charCodeAt(0) | 0x20;
    if (c !== 0x78 && c !== 0x66) continue;
    const lower = name.toLowerCase();
    const value = headers[i + 1]!;
    // Repeated fields join with commas (RFC 9110 §5.3), in order.
    if (lower === "x-forwarded-for") xff.push(value);
    else if (lower === "x-forwarded-proto") xfp.push(value);
    else if (lower === "x-forwarded-host") xfh.push(value);
    else if (lower === "forwarded") forwarded.push(value);
  }
  let hops: Hop[];
  if (xff.length > 0 || xfp.length > 0 || xfh.length > 0) {
    const fors = list(xff);
    const protos = list(xfp);
    const hosts = list(xfh);
    // X-Forwarded-Proto and -Host are usually set once by the nearest proxy
    // (nginx's `$scheme`, `$host`) while X-Forwarded-For is appended to; so
    // they describe the chosen hop only when each hop added one, else the
    // rightmost value (the nearest proxy's) is taken.
    const n = Math.max(fors.length, 1);
    hops = [];
    for (let i = 0; i < n; i++) {
      const hop: Hop = {};
      if (fors.length > 0) hop.for = fors[i]!;
      hops.push(hop);
    }
    const pick = (values: string[], i: number) =>
      values.length === 0 ? undefined : values.length === n ? values[i] : values[values.length - 1];
    for (let i = 0; i < n; i++) {
      const proto = pick(protos, i);
      const host = pick(hosts, i);
      if (proto !== undefined) hops[i]!.proto = proto;
      if (host !== undefined) hops[i]!.host = host;
    }
  } else if (forwarded.length > 0) {
    hops = parseForwarded(forwarded.join(","));
    if (hops.length === 0) return null;
  } else {
    return null;
  }
  // Walk from the right past trusted proxies; stop at the first untrusted
  // hop, or at the leftmost one.
  let i = hops.length - 1;
  while (i > 0) {
    const node = hops[i]!.for;
    if (node === undefined) break;
    const address = splitNode(node).address;
    if (!trusted.trusts(address)) break;
    i--;
  }
  const hop = hops[i]!;
  const result: ForwardedClient = {};
  if (hop.for !== undefined) {
    const { address, port } = splitNode(hop.for);
    if (address !== "") {
      result.address = address;
      result.port = port;
    }
  }
  const proto = hop.proto?.toLowerCase();
  if (proto === "https" || proto === "wss") result.tls = true;
  else if (proto === "http" || proto === "ws") result.tls = false;
  if (hop.host !== undefined && HOST_RE.test(hop.host)) result.host = hop.host;
  return result;
}

/** A Host value: reg-name or IPv4 or [IPv6], optional port (RFC 9110 §7.2, RFC 3986 §3.2.2). */
const HOST_RE = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=%]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/**
 * Items of comma-separated field values, trimmed of SP/HTAB only (RFC 9110
 * §5.6.1, §5.6.3), empty ones dropped. With trim(), "\xa0203.0.113.7" would
 * become a trusted-looking address a proxy never wrote.
 */
function list(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const item of v.split(",")) {
      const t = trimOWS(item);
      if (t !== "") out.push(t);
    }
  }
  return out;
}

/**
 * A node (RFC 7239 §6) or an X-Forwarded-For entry as address and port:
 * `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::17]:4711`, a bare IPv6
 * address, or an obfuscated name (`_hidden`, `unknown`), kept as given.
 * Obfuscated ports and missing ones are 0.
 */
function splitNode(node: string): { address: string; port: number } {
  if (node.startsWith("[")) {
    const close = node.indexOf("]");
    if (close === -1) return { address: node, port: 0 };
    const rest = node.slice(close + 1);
    return { address: node.slice(1, close), port: portOf(rest.startsWith(":") ? rest.slice(1) : "") };
  }
  if (isIP(node) !== 0) return { address: node, port: 0 };
  const colon = node.lastIndexOf(":");
  if (colon !== -1 && node.indexOf(":") === colon) {
    return { address: node.slice(0, colon), port: portOf(node.slice(colon + 1)) };
  }
  return { address: node, port: 0 };
}

function portOf(text: string): number {
  return /^[0-9]{1,5}$/.test(text) && Number(text) <= 65535 ? Number(text) : 0;
}

/**
 * RFC 7239 §4: `forwarded-element *( "," forwarded-element )`, each element
 * `pair *( ";" pair )`, a pair `token "=" ( token / quoted-string )`.
 * Parameters other than for, proto and host (`by`, extensions) are skipped.
 * A malformed header is ignored as a whole (no hops): guessing where a
 * broken element ends could hand the client's text to the walk.
 */
function parseForwarded(value: string): Hop[] {
  const elements: Hop[] = [];
  let hop: Hop = {};
  let i = 0;
  const n = value.length;
  const skipSpace = () => {
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
  };
  while (i < n) {
    skipSpace();
    if (value[i] === ",") {
      elements.push(hop);
      hop = {};
      i++;
      continue;
    }
    if (value[i] === ";") {
      i++;
      continue;
    }
    const eq = value.indexOf("=", i);
    if (eq === -1) return []; // a pair without =
    // SP/HTAB only (RFC 9110 §5.6.3); anything else fails the token check below.
    const name = trimOWS(value.slice(i, eq)).toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) return []; // a name that is not a token
    i = eq + 1;
    let v = "";
    if (value[i] === '"') {
      i++;
      while (i < n && value[i] !== '"') {
        if (value[i] === "\\") i++;
        v += value[i] ?? "";
        i++;
      }
      if (i >= n) return []; // an unterminated quoted-string
      i++;
    } else {
      const start = i;
      while (i < n && value[i] !== ";" && value[i] !== "," && value[i] !== " " && value[i] !== "\t") i++;
      v = value.slice(start, i);
    }
    if (name === "for" || name === "proto" || name === "host") hop[name] = v;
    skipSpace();
    if (i < n && value[i] !== ";" && value[i] !== ",") return []; // junk after a pair
  }
  elements.push(hop);
  return elements;
}

/**
 * The request head and connection facts an app should see: unchanged
 * unless the peer is trusted and sent forwarding headers. A new Host
 * replaces both the `host` field and the Host header's value, so every
 * gateway (SERVER_NAME, the Request URL, ASGI headers) agrees.
 */
export function applyProxyHeaders<
  R extends { readonly headers: string[]; readonly host: string },
  I extends { readonly remoteAddress: string; readonly remotePort: number; readonly tls: boolean },
>(request: R, info: I, trusted: TrustedProxies): { request: R; info: I } {
  const client = forwardedClient(request.headers, info.remoteAddress, trusted);
  if (client === null) return { request, info };
  let nextInfo = info;
  if (client.address !== undefined || client.tls !== undefined) {
    nextInfo = {
      ...info,
      remoteAddress: client.address ?? info.remoteAddress,
      remotePort: client.address !== undefined ? (client.port ?? 0) : info.remotePort,
      tls: client.tls ?? info.tls,
    };
  }
  let nextRequest = request;
  if (client.host !== undefined && client.host !== request.host) {
    const headers = request.headers.slice();
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]!.toLowerCase() === "host") headers[i + 1] = client.host;
    }
    nextRequest = { ...request, headers, host: client.host };
  }
  return { request: nextRequest, info: nextInfo };
}
