/**
 * Lifespan through `serve()`: the ASGI lifespan scope (startup before the
 * server listens, shutdown after close(), state copied into every scope,
 * `.failed` events, the auto/on/off modes, timeouts) and the same hooks on
 * Fetch apps (`startup()` / `shutdown()` members).
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WebSocket from "ws";
import type { LifespanScope, Receive, Scope, Send } from "../../src/gateways/asgi/types.ts";
import { LifespanError } from "../../src/gateways/lifespan.ts";
import { Logger } from "../../src/server/log.ts";
import { Capture, startServer } from "../helpers.ts";
import { sleep } from "../server/client.ts";

const quiet = () => {
  const errors = new Capture();
  return {
    errors,
    logger: new Logger(
      "info",
      errors as unknown as NodeJS.WritableStream,
      new Capture() as unknown as NodeJS.WritableStream,
    ),
  };
};

/** An app whose lifespan scope is driven by `onLifespan`; http requests answer with their scope's state. */
function appWith(onLifespan: (scope: LifespanScope, receive: Receive, send: Send) => Promise<void>) {
  return async (scope: Scope, receive: Receive, send: Send) => {
    if (scope.type === "lifespan") return onLifespan(scope, receive, send);
    if (scope.type !== "http") return;
    const state = scope.state as { counter?: number; shared?: string[] };
    const body = JSON.stringify(state);
    // Changing the copy must not change what the next request sees; a nested object is shared (shallow copy).
    state.counter = (state.counter ?? 0) + 100;
    state.shared?.push("x");
    await send({ type: "http.response.start", status: 200, headers: [["content-type", "application/json"]] });
    await send({ type: "http.response.body", body: new TextEncoder().encode(body) });
  };
}

describe("ASGI lifespan", () => {
  test("startup completes before serve() resolves; state reaches every scope as a shallow copy; shutdown after close()", async () => {
    const events: string[] = [];
    const app = appWith(async (scope, receive, send) => {
      assert.deepEqual(scope.asgi, { version: "3.0", spec_version: "2.0" });
      events.push((await receive()).type);
      await sleep(50);
      scope.state.counter = 1;
      scope.state.shared = [];
      await send({ type: "lifespan.startup.complete" });
      events.push((await receive()).type);
      events.push("cleanup");
      await send({ type: "lifespan.shutdown.complete" });
    });
    const { server, url, errors } = await startServer(app, { accessLog: false });
    assert.deepEqual(events, ["lifespan.startup"]);
    const first = await (await fetch(url)).json();
    const second = await (await fetch(url)).json();
    assert.deepEqual(first, { counter: 1, shared: [] });
    assert.deepEqual(second, { counter: 1, shared: ["x"] });
    assert.deepEqual(events, ["lifespan.startup"], "no shutdown while serving");
    await server.close();
    assert.deepEqual(events, ["lifespan.startup", "lifespan.shutdown", "cleanup"]);
    assert.match(errors.text, /Application startup complete/);
    assert.match(errors.text, /Application shutdown complete/);
  });

  test("shutdown runs only after in-flight requests finished", async () => {
    const events: string[] = [];
    const app = async (scope: Scope, receive: Receive, send: Send) => {
      if (scope.type === "lifespan") {
        await receive();
        await send({ type: "lifespan.startup.complete" });
        await receive();
        events.push("shutdown");
        await send({ type: "lifespan.shutdown.complete" });
        return;
      }
      events.push("request started");
      await sleep(100);
      events.push("request done");
      await send({ type: "http.response.start", status: 200 });
      await send({ type: "http.response.body", body: new TextEncoder().encode("ok") });
    };
    const { server, url } = await startServer(app, { accessLog: false });
    const pending = fetch(url).then((r) => r.text());
    while (events.length === 0) await sleep(5);
    await server.close();
    assert.equal(await pending, "ok");
    assert.deepEqual(events, ["request started", "request done", "shutdown"]);
  });

  test("close() with an open WebSocket: the app gets websocket.disconnect 1001 before lifespan.shutdown", async () => {
    const events: string[] = [];
    const app = async (scope: Scope, receive: Receive, send: Send) => {
      if (scope.type === "lifespan") {
        await receive();
        await send({ type: "lifespan.startup.complete" });
        events.push((await receive()).type);
        await send({ type: "lifespan.shutdown.complete" });
        return;
      }
      if (scope.type !== "websocket") return;
      await receive();
      await send({ type: "websocket.accept" });
      const event = await receive();
      events.push(event.type === "websocket.disconnect" ? `disconnect ${event.code}` : event.type);
    };
    const { server, port } = await startServer(app, { accessLog: false });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise((resolve, reject) => {
      ws.on("open", resolve);
      ws.on("error", reject);
    });
    const clientSaw = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    await server.close();
    assert.equal(await clientSaw, 1001);
    assert.deepEqual(events, ["disconnect 1001", "lifespan.shutdown"]);
  });

  test("lifespan.startup.failed: serve() rejects with its message and the app serves nothing", async () => {
    let httpCalls = 0;
    const app = async (scope: Scope, receive: Receive, send: Send) => {
      if (scope.type !== "lifespan") {
        httpCalls++;
        return;
      }
      await receive();
      await send({ type: "lifespan.startup.failed", message: "no database" });
    };
    const { logger } = quiet();
    await assert.rejects(startServer(app, { logger }), (err: unknown) => {
      assert.ok(err instanceof LifespanError);
      assert.equal(err.code, "TSGI_ERR_LIFESPAN_FAILED");
      assert.equal(err.message, "application startup failed: no database");
      return true;
    });
    assert.equal(httpCalls, 0);
  });

  test("lifespan.shutdown.failed: close() rejects once the server is closed", async () => {
    const app = appWith(async (_scope, receive, send) => {
      await receive();
      await send({ type: "lifespan.startup.complete" });
      await receive();
      await send({ type: "lifespan.shutdown.failed", message: "flush failed" });
    });
    const { server } = await startServer(app, { accessLog: false });
    await assert.rejects(server.close(), {
      code: "TSGI_ERR_LIFESPAN_FAILED",
      message: "application shutdown failed: flush failed",
    });
    assert.equal(server.connectionCount, 0);
  });

  test("auto: an app that raises on the lifespan scope does not support it, and is served anyway", async () => {
    const app = async (scope: Scope, _receive: Receive, send: Send) => {
      if (scope.type !== "http") throw new Error(`unsupported scope ${scope.type}`);
      await send({ type: "http.response.start", status: 200 });
      await send({ type: "http.response.body", body: new TextEncoder().encode("served") });
    };
    const { server, url, errors } = await startServer(app, { accessLog: false });
    try {
      assert.equal(await (await fetch(url)).text(), "served");
      assert.match(errors.text, /lifespan' protocol appears unsupported/);
      assert.doesNotMatch(errors.text, /ERROR/);
    } finally {
      await server.close();
    }
  });

  test("on: the same app fails to start", async () => {
    const app = async (scope: Scope, _receive: Receive, _send: Send) => {
      throw new Error(`unsupported scope ${scope.type}`);
    };
    const { logger } = quiet();
    await assert.rejects(startServer(app, { logger, lifespan: "on" }), {
      code: "TSGI_ERR_LIFESPAN_FAILED",
      message: /exception in the lifespan scope during startup: unsupported scope lifespan/,
    });
  });

  test("auto: an http-only app that sends http events to the lifespan scope is served (uvicorn)", async () => {
    const app = async (_scope: Scope, _receive: Receive, send: Send) => {
      // Ignores scope.type: its send() rejects with a contract error in the lifespan scope, and that escapes.
      await send({ type: "http.response.start", status: 200 });
      await send({ type: "http.response.body", body: new TextEncoder().encode("served") });
    };
    const { server, url, errors } = await startServer(app, { accessLog: false });
    try {
      assert.equal(await (await fetch(url)).text(), "served");
      assert.match(errors.text, /lifespan' protocol appears unsupported/);
    } finally {
      await server.close();
    }
    const { logger } = quiet();
    await assert.rejects(startServer(app, { logger, lifespan: "on" }), {
      message: /exception in the lifespan scope during startup: unexpected http.response.start/,
    });
  });

  test("off: the app never sees a lifespan scope", async () => {
    const types: string[] = [];
    const app = async (scope: Scope, _receive: Receive, send: Send) => {
      types.push(scope.type);
      if (scope.type !== "http") return;
      await send({ type: "http.response.start", status: 204 });
      await send({ type: "http.response.body" });
    };
    const { server, url } = await startServer(app, { accessLog: false, lifespan: "off" });
    assert.equal((await fetch(url)).status, 204);
    await server.close();
    assert.deepEqual(types, ["http"]);
  });

  test("startup and shutdown timeouts", async () => {
    const { logger } = quiet();
    const hangs = appWith(async (_scope, receive) => {
      await receive();
      await new Promise(() => {}); // never completes
    });
    const started = Date.now();
    await assert.rejects(startServer(hangs, { logger, startupTimeout: 100 }), {
      code: "TSGI_ERR_LIFESPAN_TIMEOUT",
      message: "application startup did not complete within 0.1s",
    });
    assert.ok(Date.now() - started < 1000);

    const slowShutdown = appWith(async (_scope, receive, send) => {
      await receive();
      await send({ type: "lifespan.startup.complete" });
      await receive();
      await new Promise(() => {});
    });
    const { server } = await startServer(slowShutdown, { logger, shutdownTimeout: 100 });
    await assert.rejects(server.close(), { code: "TSGI_ERR_LIFESPAN_TIMEOUT" });
  });

  test("events that do not belong in the lifespan scope are contract errors", async () => {
    const codes: string[] = [];
    const app = appWith(async (_scope, receive, send) => {
      await receive();
      await send({ type: "lifespan.shutdown.complete" }).catch((e: { code: string }) => codes.push(e.code));
      await send({ type: "http.response.start", status: 200 }).catch((e: { code: string }) =>
        codes.push(e.code),
      );
      await send({ type: "lifespan.startup.complete" });
      await send({ type: "lifespan.startup.complete" }).catch((e: { code: string }) => codes.push(e.code));
      await receive();
      await send({ type: "lifespan.shutdown.complete" });
    });
    const { server } = await startServer(app, { accessLog: false });
    await server.close();
    assert.deepEqual(codes, ["TSGI_ERR_ASGI_CONTRACT", "TSGI_ERR_ASGI_CONTRACT", "TSGI_ERR_ASGI_CONTRACT"]);
  });
});

describe("Fetch app lifespan hooks", () => {
  test("startup() runs before serve() resolves, shutdown() after close()", async () => {
    const events: string[] = [];
    const app = {
      async startup() {
        await sleep(30);
        events.push("startup");
      },
      fetch() {
        events.push("fetch");
        return new Response("ok");
      },
      async shutdown() {
        events.push("shutdown");
      },
    };
    const { server, url } = await startServer(app, { accessLog: false });
    assert.deepEqual(events, ["startup"]);
    assert.equal(await (await fetch(url)).text(), "ok");
    await server.close();
    assert.deepEqual(events, ["startup", "fetch", "shutdown"]);
  });

  test("a startup() that throws stops the server from starting, whatever the mode but off", async () => {
    const app = {
      startup() {
        throw new Error("no config");
      },
      fetch: () => new Response("never"),
    };
    const { logger } = quiet();
    await assert.rejects(startServer(app, { logger }), {
      code: "TSGI_ERR_LIFESPAN_FAILED",
      message: "application startup failed: no config",
    });
    const { server } = await startServer(app, { logger, lifespan: "off" });
    await server.close();
  });

  test("timeouts apply to the hooks too", async () => {
    const { logger } = quiet();
    const app = { startup: () => new Promise<void>(() => {}), fetch: () => new Response("never") };
    await assert.rejects(startServer(app, { logger, startupTimeout: 50 }), {
      code: "TSGI_ERR_LIFESPAN_TIMEOUT",
    });
  });

  test("a Proxy router that answers every property (itty-router) is not taken as having hooks", async () => {
    const calls: string[] = [];
    const router = new Proxy({} as Record<string, unknown>, {
      get: (_target, prop) =>
        prop === "fetch"
          ? () => new Response("routed")
          : (...args: unknown[]) => {
              calls.push(`${String(prop)}(${args.length})`);
              return router;
            },
    });
    const { server, url } = await startServer(router, { accessLog: false });
    assert.equal(await (await fetch(url)).text(), "routed");
    await server.close();
    assert.deepEqual(calls, []);
  });
});
