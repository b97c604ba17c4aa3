/**
 * Entry point of one `--threads` worker thread. It loads the app itself
 * (functions cannot cross threads), then serves one request at a time with the
 * ordinary WSGI-style gateway over a stand-in Exchange whose I/O is messages
 * to the main thread. The app may block here: only this thread waits.
 */

import { parentPort, workerData } from "node:worker_threads";
import { detectInterface, type Interface } from "../gateways/select.ts";
import { wsgiGateway } from "../gateways/wsgi/gateway.ts";
import type { WSGIApp } from "../gateways/wsgi/types.ts";
import type { ResponseHead } from "../http1/events.ts";
import { InternalError } from "../http1/tsgi-error.ts";
import { loadApp } from "../loader/load.ts";
import { Exchange, type ExchangeOwner } from "../server/exchange.ts";
import { isLogLevel, Logger } from "../server/log.ts";
import type { Handler } from "../server/server.ts";
import {
  errorInfo,
  ownedCopy,
  type RequestMessage,
  Slot,
  type ThreadData,
  type ThreadMessage,
  WINDOW_BYTES,
} from "./protocol.ts";

const data = workerData as ThreadData;
const port = parentPort!;
const shared = new Int32Array(data.shared);
const logger = new Logger(isLogLevel(data.logLevel) ? data.logLevel : "info");

function post(message: ThreadMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** The request being served: its id and body, read by `readBody`. */
interface Current {
  id: number;
  body: Uint8Array;
  trailers: string[];
}

/**
 * The I/O side of a thread's exchanges. Writes never report a full socket:
 * instead they block this thread (Atomics.wait) while more than
 * WINDOW_BYTES are unflushed on the main thread, which is the backpressure a
 * synchronous app can understand.
 */
class ThreadOwner implements ExchangeOwner {
  current: Current | null = null;

  readBody(ex: Exchange): void {
    const current = this.current!;
    if (current.body.length > 0) ex.receiveData(current.body);
    ex.receiveEnd(current.trailers);
  }

  resumeBody(): void {}

  sendHead(_ex: Exchange, head: ResponseHead, body?: Uint8Array | string): void {
    const id = this.current!.id;
    const message: ThreadMessage = { type: "head", id, status: head.status, headers: head.headers };
    if (head.reason !== undefined) message.reason = head.reason;
    if (body === undefined) {
      post(message);
      return;
    }
    const buffer = ownedCopy(typeof body === "string" ? Buffer.from(body, "utf8") : body);
    message.body = buffer;
    post(message, [buffer]);
  }

  sendData(ex: Exchange, chunk: Uint8Array): boolean {
    const id = this.current!.id;
    if (!this.waitForWindow(id, chunk.byteLength)) {
      ex.abandon(null); // the client went away: the app stops (result.close())
      return true;
    }
    Atomics.add(shared, Slot.UNACKED, chunk.byteLength);
    const buffer = ownedCopy(chunk);
    post({ type: "chunk", id, data: buffer }, [buffer]);
    return true;
  }

  sendEnd(): boolean {
    post({ type: "end", id: this.current!.id });
    return true;
  }

  waitForDrain(_ex: Exchange, callback: () => void): void {
    queueMicrotask(callback);
  }

  // The main thread's exchange accounts for the response and runs its connection.
  responseDone(): void {}

  // WSGI-style apps cannot take WebSockets (PEP 3333 has no upgrade); nothing calls these.
  checkWebSocket(): never {
    throw new InternalError("WebSockets are not available to WSGI-style apps on threads");
  }

  acceptWebSocket(): never {
    throw new InternalError("WebSockets are not available to WSGI-style apps on threads");
  }

  // The main thread's exchange answers it (500 or a dropped connection); this one ends with it.
  fail(_ex: Exchange, err: unknown): void {
    post({ type: "error", id: this.current!.id, error: errorInfo(err) });
  }

  /** Blocks until `bytes` more fit in the window; false if the client went away meanwhile. */
  private waitForWindow(id: number, bytes: number): boolean {
    for (;;) {
      if (Atomics.load(shared, Slot.CANCELLED) === id) return false;
      const unacked = Atomics.load(shared, Slot.UNACKED);
      // One chunk larger than the window still goes, alone.
      if (unacked === 0 || unacked + bytes <= WINDOW_BYTES) return true;
      Atomics.wait(shared, Slot.UNACKED, unacked);
    }
  }
}

async function boot(): Promise<Handler> {
  const app = await loadApp(data.target);
  const iface = detectInterface(app, data.interface as Interface);
  post({ type: "ready", interface: iface });
  return wsgiGateway(app as WSGIApp, {
    logger,
    flags: { multithread: true, multiprocess: data.multiprocess },
  });
}

try {
  const handler = await boot();
  const owner = new ThreadOwner();
  port.on("message", (message: RequestMessage) => {
    owner.current = { id: message.id, body: new Uint8Array(message.body), trailers: message.trailers };
    const ex = new Exchange(owner, message.head, message.info);
    try {
      handler(ex);
      if (!ex.finished) ex.fail(new InternalError("the request did not complete on its thread"));
    } finally {
      owner.current = null;
      post({ type: "done", id: message.id });
    }
  });
} catch (err) {
  post({ type: "boot-error", error: errorInfo(err) });
}
