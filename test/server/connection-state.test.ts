/**
 * The HttpConnection's phase machine (`ConnectionPhase` in
 * src/server/connection-phase.ts), driven on a stand-in socket: each documented
 * transition happens where it should, the final phases are final, and the
 * flags that are not phases keep their written invariants.
 */

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { describe, test } from "node:test";
import { type ConnectionHost, HttpConnection } from "../../src/server/connection.ts";
import { checkTransition, PHASE_TRANSITIONS } from "../../src/server/connection-phase.ts";
import type { Exchange } from "../../src/server/exchange.ts";
import { Logger } from "../../src/server/log.ts";
import { resolveOptions } from "../../src/server/options.ts";
import { loadWebSocketStack } from "../../src/server/websocket-loader.ts";

/** Enough of net.Socket for one HttpConnection; it records what the connection did to it. */
class FakeSocket extends EventEmitter {
  remoteAddress = "127.0.0.1";
  remotePort = 40000;
  localAddress = "127.0.0.1";
  localPort = 8000;
  writableNeedDrain = false;
  writableLength = 0;
  destroyed = false;
  readableEnded = false;
  written = "";
  corks = 0;
  /** The writes that would reach the kernel: each uncorked write, and each uncork that releases held bytes. */
  flushes = 0;
  private held = false;
  paused = false;
  ended = false;
  write(chunk: Uint8Array): boolean {
    this.written += Buffer.from(chunk).toString("latin1");
    if (this.corks > 0) this.held = true;
    else this.flushes++;
    return !this.writableNeedDrain;
  }
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    this.corks--;
    if (this.corks === 0 && this.held) {
      this.held = false;
      this.flushes++;
    }
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

function open(handler: (ex: Exchange) => void): {
  socket: FakeSocket;
  connection: HttpConnection;
  host: { shuttingDown: boolean };
} {
  const host = {
    options: resolveOptions({ accessLog: false }),
    logger: new Logger("critical"),
    handler,
    shuttingDown: false,
    webSocketCount: 0,
    tracer: null,
    proxyTrust: null,
    connectionClosed() {},
    connectionUpgraded() {},
    sessionClosed() {},
  };
  const socket = new FakeSocket();
  const connection = new HttpConnection(socket as unknown as Socket, host as ConnectionHost);
  return { socket, connection, host };
}

const hello = (ex: Exchange) => ex.respond({ status: 200, headers: [] }, Buffer.from("hi"));
const GET = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

describe("connection phases", () => {
  test("keep-alive requests leave the connection open and idle, reading", async () => {
    const { socket, connection } = open(hello);
    assert.equal(connection.currentPhase, "open");
    socket.emit("data", Buffer.from(GET + GET));
    assert.equal(connection.currentPhase, "open");
    assert.ok(connection.idle);
    assert.equal(socket.written.match(/HTTP\/1\.1 200/g)?.length, 2);
    // The pipelined batch is held until the turn ends (process.nextTick), then goes out as one write.
    assert.equal(socket.flushes, 0);
    await new Promise(process.nextTick);
    assert.equal(socket.corks, 0);
    assert.equal(socket.flushes, 1);
    assert.equal(socket.paused, false);
  });

  test("one write per read, also for responses resolved in promises of the same turn", async () => {
    const later = (ex: Exchange) => {
      void Promise.resolve().then(() => hello(ex));
    };
    const { socket } = open(later);
    socket.emit("data", Buffer.from(GET + GET + GET));
    await new Promise(setImmediate);
    assert.equal(socket.written.match(/HTTP\/1\.1 200/g)?.length, 3);
    assert.equal(socket.corks, 0);
    assert.equal(socket.flushes, 1);
    // A lone response with nothing behind it is written as it is, uncorked.
    socket.emit("data", Buffer.from(GET));
    await new Promise(setImmediate);
    assert.equal(socket.flushes, 2);
    assert.equal(socket.corks, 0);
  });

  test("a streamed response's head, body pieces and end written in one turn leave as one write", async () => {
    const streamed = (ex: Exchange) => {
      ex.respond({ status: 200, headers: [] });
      ex.write(Buffer.from("a"));
      ex.write(Buffer.from("b"));
      ex.end();
    };
    const { socket } = open(streamed);
    socket.emit("data", Buffer.from(GET));
    await new Promise(setImmediate);
    assert.match(socket.written, /\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n$/);
    assert.equal(socket.flushes, 1);
    assert.equal(socket.corks, 0);
  });

  test("open -> discarding -> open: a body the app did not read is read and dropped", () => {
    const { socket, connection } = open(hello);
    socket.emit("data", Buffer.from("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345"));
    assert.equal(connection.currentPhase, "discarding");
    assert.equal(connection.idle, false);
    socket.emit("data", Buffer.from("67890"));
    assert.equal(connection.currentPhase, "open");
    assert.ok(connection.idle);
  });

  test("open -> draining -> open: the next request waits for the socket to flush", () => {
    const { socket, connection } = open((ex) => {
      socket.writableNeedDrain = true;
      hello(ex);
    });
    socket.emit("data", Buffer.from(GET));
    assert.equal(connection.currentPhase, "draining");
    socket.writableNeedDrain = false;
    socket.emit("drain");
    assert.equal(connection.currentPhase, "open");
  });

  test("draining -> closing: a graceful shutdown does not wait for the next request", () => {
    const { socket, connection } = open((ex) => {
      socket.writableNeedDrain = true;
      hello(ex);
    });
    socket.emit("data", Buffer.from(GET));
    assert.equal(connection.currentPhase, "draining");
    connection.shutdown();
    assert.equal(connection.currentPhase, "closing");
    assert.ok(socket.ended);
  });

  test("open -> closing -> closed: Connection: close; a lingering close keeps reading", () => {
    const { socket, connection } = open(hello);
    socket.emit("data", Buffer.from("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    assert.equal(connection.currentPhase, "closing");
    assert.equal(socket.paused, false);
    socket.emit("data", Buffer.from("late bytes")); // read and dropped
    assert.equal(connection.currentPhase, "closing");
    socket.emit("close");
    assert.equal(connection.currentPhase, "closed");
  });

  test("a client gone mid-exchange: closed, and the exchange ends cut short", () => {
    let exchange: Exchange | null = null;
    const { socket, connection } = open((ex) => {
      exchange = ex; // answers later
    });
    socket.emit("data", Buffer.from(GET));
    assert.equal(connection.currentPhase, "open");
    assert.equal(connection.idle, false);
    socket.emit("close");
    assert.equal(connection.currentPhase, "closed");
    const ex = exchange! as Exchange;
    assert.ok(ex.finished);
    assert.ok(ex.clientGone);
    assert.throws(() => ex.respond({ status: 200, headers: [] }, Buffer.from("late")), /already complete/);
  });

  test("open -> switched: after a 101 the socket is the session's", async () => {
    const { socket, connection } = open((ex) => {
      ex.acceptWebSocket();
    });
    socket.emit(
      "data",
      Buffer.from(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    // The first upgrade request waits for the WebSocket machinery (websocket-loader.ts); the
    // connection's continuation was queued on the load before this one.
    assert.equal(connection.currentPhase, "open");
    await loadWebSocketStack();
    assert.equal(connection.currentPhase, "switched");
    assert.match(socket.written, /^HTTP\/1\.1 101 /);
  });

  test("the transition table: closed and switched are final, every phase is reachable from open", () => {
    assert.deepEqual(PHASE_TRANSITIONS.closed, []);
    assert.deepEqual(PHASE_TRANSITIONS.switched, []);
    const seen = new Set(["open"]);
    const queue = ["open"] as (keyof typeof PHASE_TRANSITIONS)[];
    while (queue.length > 0) {
      for (const next of PHASE_TRANSITIONS[queue.shift()!]) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    assert.deepEqual([...seen].sort(), Object.keys(PHASE_TRANSITIONS).sort());
    assert.throws(() => checkTransition("closing", "open"), /not a transition/);
    assert.throws(() => checkTransition("switched", "closed"), /not a transition/);
    // Every phase but a final one can end with the socket closing under it.
    for (const [phase, next] of Object.entries(PHASE_TRANSITIONS)) {
      if (next.length > 0) assert.ok(next.includes("closed"), `${phase} -> closed`);
    }
  });
});
