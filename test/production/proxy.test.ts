/**
 * Behind a proxy, over real sockets: what each gateway sees with
 * --proxy-headers from a trusted and from an untrusted peer, and the PROXY
 * protocol v1 and v2 on raw connections (split into pieces, LOCAL, a bad
 * header closed without a response, an untrusted peer not believed, and a
 * TLS handshake after the header).
 */

import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import type { ServeAppOptions } from "../../src/serve.ts";
import { rawRequest, startServer } from "../helpers.ts";
import { needs, OPENSSL } from "../needs.ts";
import { type Certificates, inet4, makeCertificates, tempDir, v2 } from "./support.ts";

const wsgi = (environ: Environ, startResponse: StartResponse) => {
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [
    JSON.stringify({
      remote: `${environ.REMOTE_ADDR}:${environ.REMOTE_PORT}`,
      scheme: environ["wsgi.url_scheme"],
      host: environ.HTTP_HOST,
      server: environ.SERVER_NAME,
    }),
  ];
};

const fetchApp = {
  fetch: (request: Request, info: { remoteAddress: string; tls: boolean }) =>
    Response.json({ url: request.url, remote: info.remoteAddress, tls: info.tls }),
};

async function start(app: unknown, options: ServeAppOptions) {
  return await startServer(app, { logLevel: "critical", ...options });
}

/** The JSON body of one raw exchange. */
async function ask(port: number, bytes: (string | Uint8Array)[]): Promise<Record<string, unknown>> {
  const { text } = await rawRequest(port, bytes, { timeoutMs: 2000, endAfterWrite: false });
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  assert.match(text, /^HTTP\/1\.1 200 /, text);
  return JSON.parse(body) as Record<string, unknown>;
}

const FORWARDED_REQUEST =
  "GET /p?q=1 HTTP/1.1\r\nHost: internal:8000\r\nX-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n" +
  "X-Forwarded-Proto: https\r\nX-Forwarded-Host: example.com\r\nConnection: close\r\n\r\n";

describe("--proxy-headers over sockets", () => {
  test("WSGI-style: trusted peer → REMOTE_ADDR, url_scheme and Host from the headers", async () => {
    const { server, port } = await start(wsgi, { proxyHeaders: true, forwardedAllowIps: "127.0.0.1" });
    try {
      assert.deepEqual(await ask(port, [FORWARDED_REQUEST]), {
        remote: "203.0.113.7:0",
        scheme: "https",
        host: "example.com",
        server: "example.com",
      });
    } finally {
      await server.close();
    }
  });

  test("untrusted peer, or --proxy-headers off: the headers change nothing", async () => {
    for (const options of [
      { proxyHeaders: true, forwardedAllowIps: "10.0.0.0/8" },
      { proxyHeaders: false },
    ]) {
      const { server, port } = await start(wsgi, options);
      try {
        const seen = await ask(port, [FORWARDED_REQUEST]);
        assert.match(String(seen.remote), /^127\.0\.0\.1:\d+$/);
        assert.notEqual(seen.remote, "127.0.0.1:0");
        assert.equal(seen.scheme, "http");
        assert.equal(seen.host, "internal:8000");
      } finally {
        await server.close();
      }
    }
  });

  test("Fetch: request.url and FetchInfo follow a trusted Forwarded header", async () => {
    const { server, port } = await start(fetchApp, { proxyHeaders: true });
    try {
      const seen = await ask(port, [
        'GET /x HTTP/1.1\r\nHost: internal\r\nForwarded: for="[2001:db8::7]:4711";proto=https;host=shop.example\r\nConnection: close\r\n\r\n',
      ]);
      assert.deepEqual(seen, { url: "https://shop.example/x", remote: "2001:db8::7", tls: true });
    } finally {
      await server.close();
    }
  });

  test("keep-alive: each request is judged on its own headers", async () => {
    const { server, port } = await start(wsgi, { proxyHeaders: true });
    try {
      const { text } = await rawRequest(
        port,
        [
          "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ],
        { timeoutMs: 2000 },
      );
      const remotes = [...text.matchAll(/"remote":"([^"]+)"/g)].map((m) => m[1]);
      assert.equal(remotes.length, 2, text);
      assert.equal(remotes[0], "203.0.113.7:0");
      assert.match(remotes[1]!, /^127\.0\.0\.1:[1-9]\d*$/);
    } finally {
      await server.close();
    }
  });
});

describe("--proxy-protocol over sockets", () => {
  let certs: Certificates;
  let cleanup: () => void;
  const skipTls = needs(OPENSSL);
  before(() => {
    if (skipTls !== false) return;
    const temp = tempDir();
    cleanup = temp.cleanup;
    certs = makeCertificates(temp.dir);
  });
  after(() => cleanup?.());

  const GET = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

  test("v1 and v2 headers give the client's address, also when split into pieces", async () => {
    const { server, port } = await start(wsgi, { proxyProtocol: true });
    try {
      const v1 = "PROXY TCP4 192.0.2.10 198.51.100.1 40001 443\r\n";
      assert.equal((await ask(port, [v1 + GET])).remote, "192.0.2.10:40001");
      assert.equal(
        (await ask(port, [v1.slice(0, 3), v1.slice(3, 20), v1.slice(20) + GET.slice(0, 5), GET.slice(5)]))
          .remote,
        "192.0.2.10:40001",
      );
      assert.equal(
        (await ask(port, ["PROXY TCP6 2001:db8::1 2001:db8::2 5 6\r\n", GET])).remote,
        "2001:db8::1:5",
      );
      const binary = v2(1, 0x11, inet4("203.0.113.20", "10.0.0.1", 50000, 8443));
      assert.equal(
        (await ask(port, [Buffer.concat([binary, Buffer.from(GET)])])).remote,
        "203.0.113.20:50000",
      );
      assert.equal(
        (await ask(port, [binary.subarray(0, 7), binary.subarray(7), GET])).remote,
        "203.0.113.20:50000",
      );
      // LOCAL (a balancer's health check): the socket's own address.
      assert.match(
        String((await ask(port, [v2(0, 0x00, Buffer.alloc(0)), GET])).remote),
        /^127\.0\.0\.1:[1-9]/,
      );
    } finally {
      await server.close();
    }
  });

  test("a missing or malformed header from a trusted peer: closed without a response", async () => {
    const { server, port } = await start(wsgi, { proxyProtocol: true });
    try {
      for (const bytes of [
        GET,
        `PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n${GET}`,
        `PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n${GET}`,
      ]) {
        const result = await rawRequest(port, bytes, { timeoutMs: 2000 });
        assert.ok(result.closed, JSON.stringify(bytes));
        assert.equal(result.text, "", JSON.stringify(bytes));
      }
    } finally {
      await server.close();
    }
  });

  test("an untrusted peer's PROXY line is not believed: it is an HTTP request line, answered 400", async () => {
    const { server, port } = await start(wsgi, { proxyProtocol: true, forwardedAllowIps: "10.0.0.1" });
    try {
      const { text } = await rawRequest(port, `PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n${GET}`, {
        timeoutMs: 2000,
      });
      assert.match(text, /^HTTP\/1\.1 400 /);
      assert.equal((await ask(port, [GET])).remote !== "1.2.3.4:1", true);
    } finally {
      await server.close();
    }
  });

  test("PROXY then TLS (TLS passthrough): the client's address and https", { skip: skipTls }, async () => {
    const { server, port } = await start(wsgi, {
      proxyProtocol: true,
      tls: { certFile: certs.certFile, keyFile: certs.keyFile },
    });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const raw = connect(port, "127.0.0.1", () => {
          raw.write("PROXY TCP4 192.0.2.99 198.51.100.1 41000 443\r\n");
          const secure = tlsConnect({ socket: raw, ca: certs.ca, servername: "localhost" }, () =>
            secure.write(GET),
          );
          let data = "";
          secure.on("data", (d) => (data += d));
          secure.on("end", () => resolve(data));
          secure.on("error", reject);
        });
        raw.on("error", reject);
      });
      const seen = JSON.parse(body.slice(body.indexOf("\r\n\r\n") + 4));
      assert.equal(seen.remote, "192.0.2.99:41000");
      assert.equal(seen.scheme, "https");
    } finally {
      await server.close();
    }
  });

  test("PROXY and proxy headers together: the header's address is the peer the headers are judged by", async () => {
    const { server, port } = await start(wsgi, {
      proxyProtocol: true,
      proxyHeaders: true,
      forwardedAllowIps: "127.0.0.1, 10.0.0.0/8",
    });
    try {
      const request =
        "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.1\r\nConnection: close\r\n\r\n";
      // The balancer relays for a trusted CDN node 10.1.1.1: its X-Forwarded-For is believed.
      assert.equal(
        (await ask(port, [`PROXY TCP4 10.1.1.1 10.0.0.2 1000 80\r\n${request}`])).remote,
        "203.0.113.1:0",
      );
      // It relays for a stranger: the stranger's X-Forwarded-For is not.
      assert.equal(
        (await ask(port, [`PROXY TCP4 198.51.100.5 10.0.0.2 1000 80\r\n${request}`])).remote,
        "198.51.100.5:1000",
      );
    } finally {
      await server.close();
    }
  });
});
