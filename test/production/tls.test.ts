/**
 * TLS with certificates made by `openssl` for this run, checked by clients
 * that verify them: undici's fetch with the CA, curl --cacert, the `ws`
 * client, and node:tls for ALPN and mutual TLS. Each gateway must see
 * https / wss; a client without the CA, or without a client certificate
 * when one is required, must fail; bad files fail before listening.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import { Agent, fetch as undiciFetch } from "undici";
import WebSocket from "ws";
import type { Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
import type { Environ, StartResponse } from "../../src/gateways/wsgi/types.ts";
import { serve } from "../../src/serve.ts";
import { TlsConfigError } from "../../src/server/tls.ts";
import { runCli } from "../helpers.ts";
import { CURL, needs, OPENSSL } from "../needs.ts";
import {
  type Certificates,
  KEY_PASSWORD,
  makeCertificates,
  quiet,
  startTsgi,
  tempDir,
  WHOAMI,
} from "./support.ts";

const run = promisify(execFile);
let certs: Certificates;
let cleanup: () => void;

const skip = needs(OPENSSL);

before(() => {
  if (skip !== false) return;
  const temp = tempDir();
  cleanup = temp.cleanup;
  certs = makeCertificates(temp.dir);
});
after(() => cleanup?.());

async function fetchJson(url: string, agent: Agent): Promise<Record<string, unknown>> {
  const response = await undiciFetch(url, { dispatcher: agent });
  return (await response.json()) as Record<string, unknown>;
}

describe("TLS on each gateway", { skip }, () => {
  test("Fetch: request.url is https and info.tls is true (undici with the CA)", async () => {
    const server = await serve(
      {
        fetch: (request: Request, info: { tls: boolean }) =>
          Response.json({ url: request.url, tls: info.tls }),
      },
      { port: 0, tls: { certFile: certs.certFile, keyFile: certs.keyFile }, logger: quiet() },
    );
    const agent = new Agent({ connect: { ca: certs.ca } });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const port = server.address.port;
      const body = await fetchJson(`https://localhost:${port}/a?b=1`, agent);
      assert.deepEqual(body, { url: `https://localhost:${port}/a?b=1`, tls: true });
    } finally {
      await agent.close();
      await server.close();
    }
  });

  test("WSGI-style: wsgi.url_scheme is https (curl --cacert); a client without the CA is refused", {
    skip: needs(CURL),
  }, async () => {
    const app = (environ: Environ, startResponse: StartResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [`${environ["wsgi.url_scheme"]} ${environ.SERVER_PORT}`];
    };
    const server = await serve(app, { port: 0, tls: { cert: certs.cert, key: certs.key }, logger: quiet() });
    const port = server.address.port;
    try {
      const { stdout } = await run("curl", ["-sS", "--cacert", certs.caFile, `https://localhost:${port}/`]);
      assert.equal(stdout, `https ${port}`);
      // Without the CA, curl's verification fails (exit 60): the certificate is really checked.
      await assert.rejects(
        run("curl", ["-sS", `https://localhost:${port}/`]),
        (err: { code?: number }) => err.code === 60,
      );
      // Plain HTTP on the TLS port gets no HTTP answer.
      await assert.rejects(run("curl", ["-sS", "--max-time", "5", `http://127.0.0.1:${port}/`]));
    } finally {
      await server.close();
    }
  });

  test("ASGI-style: http scope scheme https, websocket scope wss (the ws client with the CA)", async () => {
    const app = async (scope: Scope, receive: Receive, send: Send) => {
      if (scope.type === "http") {
        await send({ type: "http.response.start", status: 200, headers: [] });
        await send({ type: "http.response.body", body: new TextEncoder().encode(scope.scheme) });
      } else if (scope.type === "websocket") {
        await receive();
        await send({ type: "websocket.accept" });
        const message = await receive();
        await send({
          type: "websocket.send",
          text: `${scope.scheme} ${message.type === "websocket.receive" ? message.text : "?"}`,
        });
        await send({ type: "websocket.close", code: 1000 });
      }
    };
    const server = await serve(app, {
      port: 0,
      tls: { certFile: certs.certFile, keyFile: certs.keyFile },
      logger: quiet(),
    });
    const port = server.address.port;
    const agent = new Agent({ connect: { ca: certs.ca } });
    try {
      const response = await undiciFetch(`https://localhost:${port}/`, { dispatcher: agent });
      assert.equal(await response.text(), "https");
      const ws = new WebSocket(`wss://localhost:${port}/`, { ca: certs.ca });
      const reply = await new Promise<string>((resolve, reject) => {
        ws.on("open", () => ws.send("ping"));
        ws.on("message", (data) => resolve(String(data)));
        ws.on("error", reject);
      });
      assert.equal(reply, "wss ping");
      ws.close();
      // The ws client refuses a certificate it cannot verify.
      const untrusting = new WebSocket(`wss://localhost:${port}/`);
      const failure = await new Promise<Error>((resolve) => untrusting.on("error", resolve));
      assert.match(failure.message, /self[- ]signed|unable to (verify|get local issuer)/i);
    } finally {
      await agent.close();
      await server.close();
    }
  });
});

describe("TLS details", { skip }, () => {
  test("ALPN: a client offering h2 and http/1.1 settles on http/1.1", async () => {
    const server = await serve(() => new Response("x"), {
      port: 0,
      interface: "fetch",
      tls: { certFile: certs.certFile, keyFile: certs.keyFile },
      logger: quiet(),
    });
    try {
      const protocol = await new Promise<string | false | null>((resolve, reject) => {
        const socket = tlsConnect(
          {
            port: server.address.port,
            host: "127.0.0.1",
            servername: "localhost",
            ca: certs.ca,
            ALPNProtocols: ["h2", "http/1.1"],
          },
          () => {
            resolve(socket.alpnProtocol);
            socket.destroy();
          },
        );
        socket.on("error", reject);
      });
      assert.equal(protocol, "http/1.1");
    } finally {
      await server.close();
    }
  });

  test("mutual TLS: with a CA given, a client needs a certificate it signed", async () => {
    const server = await serve(() => new Response("hello"), {
      port: 0,
      interface: "fetch",
      tls: { certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile },
      logger: quiet(),
    });
    const url = `https://localhost:${server.address.port}/`;
    const withCert = new Agent({ connect: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
    const without = new Agent({ connect: { ca: certs.ca } });
    try {
      assert.equal(await (await undiciFetch(url, { dispatcher: withCert })).text(), "hello");
      await assert.rejects(undiciFetch(url, { dispatcher: without }));
    } finally {
      await withCert.close();
      await without.close();
      await server.close();
    }
  });

  test("bad TLS files fail before anything listens, with TSGI_ERR_TLS_CONFIG", async () => {
    const cases = [
      { certFile: `${certs.dir}/missing.pem`, keyFile: certs.keyFile },
      { certFile: certs.certFile, keyFile: certs.clientKeyFile }, // key of another certificate
      { certFile: certs.certFile, keyFile: certs.encryptedKeyFile, passphrase: "wrong" },
      { certFile: certs.certFile },
    ];
    for (const tls of cases) {
      await assert.rejects(
        serve(() => new Response(""), { port: 0, interface: "fetch", tls, logger: quiet() }),
        (err: unknown) => err instanceof TlsConfigError && err.code === "TSGI_ERR_TLS_CONFIG",
        JSON.stringify(tls),
      );
    }
  });
});

describe("TLS from the command line", { skip }, () => {
  test("--ssl-certfile, --ssl-keyfile and --ssl-keyfile-password with --workers 2: https line, scheme https", async () => {
    const tsgi = await startTsgi([
      "--port",
      "0",
      "--workers",
      "2",
      "--ssl-certfile",
      certs.certFile,
      "--ssl-keyfile",
      certs.encryptedKeyFile,
      "--ssl-keyfile-password",
      KEY_PASSWORD,
      WHOAMI,
    ]);
    const agent = new Agent({ connect: { ca: certs.ca } });
    try {
      assert.equal(tsgi.urls.length, 1);
      const port = /^https:\/\/127\.0\.0\.1:(\d+)$/.exec(tsgi.urls[0]!)?.[1];
      assert.ok(port !== undefined, tsgi.stderr());
      const body = await fetchJson(`https://localhost:${port}/`, agent);
      assert.equal(body.scheme, "https");
      assert.equal(body.host, `localhost:${port}`);
    } finally {
      await agent.close();
      assert.equal(await tsgi.stop(), 0);
    }
  });

  test("a wrong passphrase or a key without a certificate: one line, exit status 1 or 2", async () => {
    const wrong = await runCli([
      "--port",
      "0",
      "--ssl-certfile",
      certs.certFile,
      "--ssl-keyfile",
      certs.encryptedKeyFile,
      "--ssl-keyfile-password",
      "nope",
      WHOAMI,
    ]);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /^tsgi: error: cannot use the TLS certificate and key: /m);
    const half = await runCli(["--ssl-keyfile", certs.keyFile, WHOAMI]);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /TLS needs both --ssl-certfile and --ssl-keyfile/);
  });
});
