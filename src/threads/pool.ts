/**
 * The `--threads` pool on the main thread: N worker threads, each running one
 * request at a time; requests wait in a FIFO queue while all are busy. The
 * main thread keeps all socket I/O (through the Exchange) and only moves
 * bodies across; a thread that dies fails its request and is replaced.
 */

import { Worker } from "node:worker_threads";
import { InternalError } from "../http1/tsgi-error.ts";
import type { Exchange } from "../server/exchange.ts";
import type { Logger } from "../server/log.ts";
import { ThreadDiedError } from "./errors.ts";
import {
  type RequestMessage,
  rebuildError,
  SHARED_BYTES,
  Slot,
  type ThreadData,
  type ThreadMessage,
} from "./protocol.ts";

/** Settings of a {@link ThreadPool}. */
export interface ThreadPoolOptions {
  /** MODULE[:ATTR] each thread loads. */
  target: string;
  /** Requested interface ("auto" or "wsgi"). */
  interface: string;
  /** Number of threads. */
  size: number;
  logger: Logger;
  /** `wsgi.multiprocess` for the app. */
  multiprocess: boolean;
}

/** A request waiting for, or running on, a thread. */
interface Job {
  id: number;
  ex: Exchange;
  body: ArrayBuffer;
  trailers: string[];
}

/** Delay before replacing a thread that failed to boot after the pool started (the app file may be broken). */
const REBOOT_DELAY_MS = 1000;

/** One worker thread and the request it runs. */
class Thread {
  readonly worker: Worker;
  readonly shared: Int32Array;
  job: Job | null = null;
  ready = false;
  /** Told once whether the thread loaded the app (only for the threads `start()` waits for). */
  booted: ((outcome: string | Error) => void) | undefined;

  constructor(entry: URL, data: Omit<ThreadData, "shared">) {
    const buffer = new SharedArrayBuffer(SHARED_BYTES);
    this.shared = new Int32Array(buffer);
    this.worker = new Worker(entry, { workerData: { ...data, shared: buffer } satisfies ThreadData });
  }
}

/**
 * Runs WSGI-style requests on worker threads.
 *
 * @example
 * const pool = new ThreadPool({ target: "app.ts", interface: "auto", size: 4, logger, multiprocess: false });
 * await pool.start();            // resolves with the app's interface once every thread loaded it
 * pool.run(exchange, body, []);  // from a server handler
 */
export class ThreadPool {
  private readonly threads = new Set<Thread>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  // Up one folder and down again: in dist this code lives in a shared chunk
  // one folder below dist, beside threads/ (scripts/bundle.mjs).
  private readonly entry = new URL(
    import.meta.url.endsWith(".ts") ? "../threads/thread.ts" : "../threads/thread.js",
    import.meta.url,
  );

  constructor(private readonly options: ThreadPoolOptions) {}

  /** Starts every thread; resolves with the interface the app speaks, rejects with the first thread's load error. */
  start(): Promise<string> {
    return new Promise((resolve, reject) => {
      let pending = this.options.size;
      let failed = false;
      for (let i = 0; i < this.options.size; i++) {
        this.spawn((outcome) => {
          if (failed) return;
          if (outcome instanceof Error) {
            failed = true;
            void this.close();
            reject(outcome);
          } else if (--pending === 0) resolve(outcome);
        });
      }
    });
  }

  /** Queues a request; `body` is transferred to the thread that takes it. */
  run(ex: Exchange, body: ArrayBuffer, trailers: string[]): void {
    const job: Job = { id: this.nextId++, ex, body, trailers };
    if (this.nextId > 0x7fffffff) this.nextId = 1; // ids live in an Int32Array slot
    ex.onClientGone(() => this.cancel(job));
    this.queue.push(job);
    this.dispatch();
  }

  /** Stops every thread (running requests are abandoned; the server drains before calling this). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.threads].map((t) => t.worker.terminate()));
  }

  private dispatch(): void {
    for (const thread of this.threads) {
      if (this.queue.length === 0) return;
      if (!thread.ready || thread.job !== null) continue;
      let job = this.queue.shift();
      while (job?.ex.finished) job = this.queue.shift();
      if (job === undefined) return;
      thread.job = job;
      Atomics.store(thread.shared, Slot.UNACKED, 0);
      const { ex } = job;
      const message: RequestMessage = {
        type: "request",
        id: job.id,
        head: ex.request,
        info: ex.info,
        body: job.body,
        trailers: job.trailers,
      };
      thread.worker.postMessage(message, [job.body]);
    }
  }

  private cancel(job: Job): void {
    const index = this.queue.indexOf(job);
    if (index !== -1) {
      this.queue.splice(index, 1);
      return;
    }
    for (const thread of this.threads) {
      if (thread.job === job) {
        Atomics.store(thread.shared, Slot.CANCELLED, job.id);
        Atomics.notify(thread.shared, Slot.UNACKED);
      }
    }
  }

  /** Starts one thread; `booted` hears the app's interface or the load error. */
  private spawn(booted?: (outcome: string | Error) => void): void {
    const { target, interface: iface, logger, multiprocess } = this.options;
    const thread = new Thread(this.entry, { target, interface: iface, logLevel: logger.level, multiprocess });
    thread.booted = booted;
    this.threads.add(thread);
    thread.worker.on("message", (message: ThreadMessage) => this.onMessage(thread, message));
    thread.worker.on("error", (err) => logger.error("a worker thread failed", err));
    thread.worker.on("exit", (code) => this.onExit(thread, code));
  }

  private onMessage(thread: Thread, message: ThreadMessage): void {
    const booted = thread.booted;
    switch (message.type) {
      case "ready":
        thread.ready = true;
        thread.booted = undefined;
        booted?.(message.interface);
        this.dispatch();
        return;
      case "boot-error": {
        const err = rebuildError(message.error);
        thread.booted = undefined;
        if (booted !== undefined) booted(err);
        else this.options.logger.error("a replacement thread could not load the app", err);
        void thread.worker.terminate();
        return;
      }
      case "done":
        if (thread.job?.id === message.id) {
          const { ex } = thread.job;
          thread.job = null;
          if (!ex.finished && !ex.clientGone)
            ex.fail(new InternalError("the thread finished without a complete response"));
        }
        this.dispatch();
        return;
      default:
        this.forward(thread, message);
    }
  }

  /** Passes a response message of the running request to its exchange. */
  private forward(
    thread: Thread,
    message: Exclude<ThreadMessage, { type: "ready" | "boot-error" | "done" }>,
  ): void {
    const job = thread.job;
    if (job === null || job.id !== message.id) return;
    const { ex } = job;
    if (message.type === "chunk") {
      const ack = () => {
        Atomics.sub(thread.shared, Slot.UNACKED, message.data.byteLength);
        Atomics.notify(thread.shared, Slot.UNACKED);
      };
      if (ex.finished) ack();
      else if (ex.write(new Uint8Array(message.data))) ack();
      else ex.onDrain(ack);
      return;
    }
    if (ex.finished) return;
    try {
      switch (message.type) {
        case "head": {
          const head = { status: message.status, reason: message.reason, headers: message.headers };
          if (message.body === undefined) ex.respond(head);
          else ex.respond(head, new Uint8Array(message.body));
          return;
        }
        case "end":
          ex.end();
          return;
        case "error":
          ex.fail(rebuildError(message.error));
          return;
      }
    } catch (err) {
      // The head was refused here (an invalid header): fail the request and stop the thread's output.
      ex.fail(err);
      this.cancel(job);
    }
  }

  private onExit(thread: Thread, code: number): void {
    this.threads.delete(thread);
    const job = thread.job;
    thread.job = null;
    if (job !== null && !job.ex.finished) {
      const { method, target } = job.ex.request;
      job.ex.fail(new ThreadDiedError(`the thread serving ${method} ${target} exited with code ${code}`));
    }
    if (thread.booted !== undefined) {
      thread.booted(new ThreadDiedError(`a worker thread exited with code ${code} while loading the app`));
      return;
    }
    if (this.closed) return;
    if (thread.ready) {
      this.options.logger.warning(`a worker thread exited with code ${code}; starting a new one`);
      this.spawn();
    } else {
      // It never loaded the app: retrying at once would spin on a broken file.
      setTimeout(() => {
        if (!this.closed) this.spawn();
      }, REBOOT_DELAY_MS).unref();
    }
  }
}
