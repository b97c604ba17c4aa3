/**
 * Just enough of net.Socket for the microbenchmarks to drive a connection
 * or a WebSocket session without the kernel: writes are counted and
 * dropped, and `emit("data", ...)` stands for a read.
 */

import { EventEmitter } from "node:events";

export class StandInSocket extends EventEmitter {
  remoteAddress = "127.0.0.1";
  remotePort = 40000;
  localAddress = "127.0.0.1";
  localPort = 8000;
  writableNeedDrain = false;
  writableLength = 0;
  destroyed = false;
  readableEnded = false;
  /** Bytes passed to write() so far. */
  bytes = 0;
  write(chunk: Uint8Array): boolean {
    this.bytes += chunk.length;
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}
