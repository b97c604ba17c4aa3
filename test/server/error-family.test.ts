/**
 * One error family (issue 14.5): the classes keep their names, codes and
 * extra fields and all derive from TsgiError; the throws that were plain
 * Errors now carry a code.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LocalProtocolError, RemoteProtocolError } from "../../src/http1/errors.ts";
import { InternalError, TsgiError } from "../../src/http1/tsgi-error.ts";
import { checkTransition } from "../../src/server/connection-phase.ts";
import { BindError } from "../../src/server/listen.ts";
import { Server } from "../../src/server/server.ts";
import { HandshakeError, WebSocketProtocolError, WebSocketUsageError } from "../../src/websocket/errors.ts";

test("the existing classes derive from TsgiError and keep their fields", () => {
  const remote = new RemoteProtocolError("bad", "TSGI_ERR_BAD_METHOD", 400);
  assert.ok(remote instanceof TsgiError && remote instanceof Error);
  assert.deepEqual(
    [remote.name, remote.code, remote.status],
    ["RemoteProtocolError", "TSGI_ERR_BAD_METHOD", 400],
  );
  const local = new LocalProtocolError("bad", "TSGI_ERR_BAD_STATUS");
  assert.deepEqual([local instanceof TsgiError, local.status], [true, 500]);
  const ws = new WebSocketProtocolError("unmasked", "TSGI_ERR_WS_UNMASKED_FRAME", 1002);
  assert.deepEqual(
    [ws instanceof TsgiError, ws.code, ws.closeCode],
    [true, "TSGI_ERR_WS_UNMASKED_FRAME", 1002],
  );
  const usage = new WebSocketUsageError("late");
  assert.deepEqual([usage instanceof TsgiError, usage.code], [true, "TSGI_ERR_WS_INVALID_STATE"]);
  const handshake = new HandshakeError("busy", 503, ["Retry-After", "5"]);
  assert.deepEqual(
    [handshake instanceof TsgiError, handshake.code, handshake.status],
    [true, "TSGI_ERR_WS_HANDSHAKE", 503],
  );
  const bind = new BindError("in use", "EADDRINUSE");
  assert.deepEqual(
    [bind instanceof TsgiError, bind.code, bind.reason],
    [true, "TSGI_ERR_BIND", "EADDRINUSE"],
  );
});

test("server.url and server.address before listen(): NotListeningError", () => {
  const server = new Server(() => {});
  assert.throws(() => server.url, {
    name: "NotListeningError",
    code: "TSGI_ERR_NOT_LISTENING",
    message: "server is not listening",
  });
  assert.throws(
    () => server.address,
    (err: unknown) => err instanceof TsgiError && err.code === "TSGI_ERR_NOT_LISTENING",
  );
});

test("a connection phase move the table does not list: InternalError", () => {
  assert.throws(
    () => checkTransition("closed", "open"),
    (err: unknown) =>
      err instanceof InternalError &&
      err.code === "TSGI_ERR_INTERNAL" &&
      err.message === "connection phase closed -> open is not a transition",
  );
});
