/**
 * The trust rules of --proxy-headers as a table: which peers are believed,
 * how a chain of X-Forwarded-For or Forwarded hops is walked (rightmost
 * untrusted), which family wins when both are sent, what is ignored.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  applyProxyHeaders,
  forwardedClient,
  ProxyConfigError,
  TrustedProxies,
} from "../../src/server/proxy-headers.ts";

describe("TrustedProxies", () => {
  test("addresses, CIDR blocks, unix and *", () => {
    const t = TrustedProxies.parse(" 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32,unix");
    for (const yes of ["10.1.2.3", "192.0.2.1", "::ffff:10.9.9.9", "2001:db8::5", ""])
      assert.ok(t.trusts(yes), yes);
    for (const no of ["11.0.0.1", "192.0.2.2", "2001:db9::1", "::1", "unknown", "_hidden"])
      assert.ok(!t.trusts(no), no);
    const all = TrustedProxies.parse("*");
    for (const yes of ["1.1.1.1", "::1", ""]) assert.ok(all.trusts(yes));
  });

  test("the default trusts this machine only", () => {
    const t = TrustedProxies.parse("127.0.0.1,::1,unix");
    for (const yes of ["127.0.0.1", "::1", "::ffff:127.0.0.1", ""]) assert.ok(t.trusts(yes), yes);
    for (const no of ["127.0.0.2", "10.0.0.1"]) assert.ok(!t.trusts(no), no);
    assert.ok(!TrustedProxies.parse("127.0.0.1").trusts(""), "unix peers only when listed");
  });

  test("bad entries are refused with a code", () => {
    for (const bad of ["localhost", "10.0.0.0/33", "::1/129", "1.2.3.4/x", "1.2.3"]) {
      assert.throws(
        () => TrustedProxies.parse(bad),
        (err: unknown) => err instanceof ProxyConfigError && err.code === "TSGI_ERR_PROXY_CONFIG",
        bad,
      );
    }
  });
});

describe("forwardedClient", () => {
  const trust = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8");
  const read = (headers: string[], peer = "127.0.0.1") => forwardedClient(headers, peer, trust);

  test("an untrusted peer's headers are ignored", () => {
    assert.equal(read(["X-Forwarded-For", "1.2.3.4", "X-Forwarded-Proto", "https"], "192.0.2.9"), null);
    assert.equal(read(["Forwarded", "for=1.2.3.4;proto=https"], "192.0.2.9"), null);
  });

  test("issue 12: only SP/HTAB are trimmed; 0xA0 around a value keeps it from being read as the bare value", () => {
    // trim() would turn "\xa0203.0.113.7" into an address no proxy wrote.
    assert.deepEqual(read(["X-Forwarded-For", "10.0.0.2,\xa0203.0.113.7"]), {
      address: "\xa0203.0.113.7",
      port: 0,
    });
    assert.deepEqual(read(["X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "\xa0https"]), {
      address: "203.0.113.7",
      port: 0,
    });
    assert.deepEqual(read(["X-Forwarded-For", "203.0.113.7", "X-Forwarded-Host", "b.example\xa0"]), {
      address: "203.0.113.7",
      port: 0,
    });
    // A Forwarded pair name with 0xA0 is no token: the header is ignored as a whole.
    assert.equal(read(["Forwarded", "\xa0for=203.0.113.7;proto=https"]), null);
    // SP/HTAB are OWS and still trimmed.
    assert.deepEqual(
      read(["X-Forwarded-For", " 10.0.0.2 ,\t203.0.113.7\t", "X-Forwarded-Proto", "\thttps "]),
      {
        address: "203.0.113.7",
        port: 0,
        tls: true,
      },
    );
  });

  test("no forwarding headers: nothing changes", () => {
    assert.equal(read(["Host", "a", "X-Other", "1"]), null);
  });

  test("X-Forwarded-For: the rightmost untrusted hop is the client", () => {
    assert.deepEqual(read(["X-Forwarded-For", "203.0.113.7"]), { address: "203.0.113.7", port: 0 });
    // The client made up the first entry; 10.0.0.2 is our own proxy.
    assert.deepEqual(read(["X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.0.0.2"]), {
      address: "203.0.113.7",
      port: 0,
    });
    // Repeated fields are one list, in order.
    assert.deepEqual(read(["x-forwarded-for", "6.6.6.6", "X-FORWARDED-FOR", "203.0.113.7,10.0.0.2"]), {
      address: "203.0.113.7",
      port: 0,
    });
    // Every hop trusted: the leftmost.
    assert.deepEqual(read(["X-Forwarded-For", "10.0.0.5, 10.0.0.2"]), { address: "10.0.0.5", port: 0 });
    // Ports and IPv6 brackets, as some proxies write them.
    assert.deepEqual(read(["X-Forwarded-For", "203.0.113.7:5000"]), { address: "203.0.113.7", port: 5000 });
    assert.deepEqual(read(["X-Forwarded-For", "[2001:db8::1]:443"]), { address: "2001:db8::1", port: 443 });
    assert.deepEqual(read(["X-Forwarded-For", "2001:db8::1"]), { address: "2001:db8::1", port: 0 });
  });

  test("X-Forwarded-Proto and -Host: the chosen hop's when each hop added one, else the nearest proxy's", () => {
    assert.deepEqual(
      read([
        "X-Forwarded-For",
        "203.0.113.7",
        "X-Forwarded-Proto",
        "https",
        "X-Forwarded-Host",
        "example.com",
      ]),
      {
        address: "203.0.113.7",
        port: 0,
        tls: true,
        host: "example.com",
      },
    );
    assert.deepEqual(read(["X-Forwarded-For", "203.0.113.7, 10.0.0.2", "X-Forwarded-Proto", "https, http"]), {
      address: "203.0.113.7",
      port: 0,
      tls: true,
    });
    assert.deepEqual(read(["X-Forwarded-For", "203.0.113.7, 10.0.0.2", "X-Forwarded-Proto", "http"]), {
      address: "203.0.113.7",
      port: 0,
      tls: false,
    });
    // Proto alone (a balancer that only says the scheme).
    assert.deepEqual(read(["X-Forwarded-Proto", "wss"]), { tls: true });
    // Unknown schemes and malformed hosts are ignored.
    assert.deepEqual(read(["X-Forwarded-Proto", "gopher", "X-Forwarded-Host", "a b"]), {});
    assert.deepEqual(read(["X-Forwarded-Host", "[::1]:8443"]), { host: "[::1]:8443" });
  });

  test("Forwarded (RFC 7239): elements walked the same way; quoted values", () => {
    assert.deepEqual(read(["Forwarded", 'for="[2001:db8:cafe::17]:4711";proto=https;host=example.com']), {
      address: "2001:db8:cafe::17",
      port: 4711,
      tls: true,
      host: "example.com",
    });
    assert.deepEqual(
      read([
        "Forwarded",
        "for=6.6.6.6;proto=http",
        "Forwarded",
        "for=203.0.113.7;proto=https;by=10.0.0.2, for=10.0.0.3",
      ]),
      { address: "203.0.113.7", port: 0, tls: true },
    );
    assert.deepEqual(read(["Forwarded", 'For="203.0.113.7:80" ; Proto=HTTPS']), {
      address: "203.0.113.7",
      port: 80,
      tls: true,
    });
    // Obfuscated identifiers are passed on as given.
    assert.deepEqual(read(["Forwarded", "for=_hidden"]), { address: "_hidden", port: 0 });
    // A malformed header is ignored as a whole.
    assert.equal(read(["Forwarded", 'for="1.2.3.4']), null);
    assert.equal(read(["Forwarded", "for=1.2.3.4 junk"]), null);
  });

  test("X-Forwarded-* win over Forwarded when both are sent", () => {
    // nginx appends to X-Forwarded-For and passes the client's Forwarded through untouched.
    assert.deepEqual(read(["Forwarded", "for=6.6.6.6;proto=https", "X-Forwarded-For", "203.0.113.7"]), {
      address: "203.0.113.7",
      port: 0,
    });
  });

  test("applyProxyHeaders: the info and the Host header change together; nothing is copied otherwise", () => {
    const request = {
      headers: ["Host", "internal:8000", "X-Forwarded-For", "203.0.113.7", "X-Forwarded-Host", "example.com"],
      host: "internal:8000",
    };
    const info = {
      remoteAddress: "127.0.0.1",
      remotePort: 5555,
      localAddress: "127.0.0.1",
      localPort: 8000,
      tls: false,
    };
    const out = applyProxyHeaders(request, info, trust);
    assert.deepEqual(out.info, { ...info, remoteAddress: "203.0.113.7", remotePort: 0 });
    assert.equal(out.request.host, "example.com");
    assert.deepEqual(out.request.headers.slice(0, 2), ["Host", "example.com"]);
    assert.equal(request.host, "internal:8000", "the parsed head is not modified");
    const plain = { headers: ["Host", "a"], host: "a" };
    const same = applyProxyHeaders(plain, info, trust);
    assert.equal(same.request, plain);
    assert.equal(same.info, info);
  });
});
