/**
 * Entry point of one `--workers` worker process (a node:cluster worker). It
 * starts the server as a single process does (the runtime's `startServer`),
 * listening through the supervisor's shared socket, beats a
 * heartbeat from its event loop, asks to be replaced after `--max-requests`,
 * and drains then exits when told to stop (or when the supervisor is gone).
 * With `--metrics` it counts requests and answers the supervisor's scrapes;
 * with `--health-path` it answers 503 once told the server is draining.
 */

import { UsageError } from "../runtime/errors.ts";
import { createLogger, reopenAccessLog } from "../runtime/logging.ts";
import { startServer } from "../runtime/start.ts";
import { CONFIG_ENV, type SupervisorMessage, type WorkerConfig, type WorkerMessage } from "./protocol.ts";

const setup = JSON.parse(process.env[CONFIG_ENV] ?? "null") as WorkerConfig;

function send(message: WorkerMessage, then?: () => void): void {
  if (process.connected) process.send!(message, undefined, {}, then);
  else then?.();
}

// The heartbeat runs from the first moment: a timer that fires proves the
// event loop is not stuck, which is exactly what --timeout watches.
const heartbeat = setup.heartbeatMs > 0 ? setInterval(() => send({ type: "beat" }), setup.heartbeatMs) : null;

// Ctrl+C reaches the whole process group; the supervisor decides how we stop.
process.on("SIGINT", () => {});

let stopping = false;

/** How long a stopping worker waits for the first request of a connection just handed to it. */
const UNUSED_GRACE_MS = 1000;

/** Resolves once the supervisor answers `drained` with `exit` (or is gone). */
let released: (() => void) | null = null;

/**
 * Waits until exiting strands no connection. node:cluster's supervisor
 * accepts each connection and sends it to a worker over IPC, keeping its
 * own copy of the socket until the worker answers. A connection sent just
 * before our listener closed is still on its way; the worker turns it away
 * and the supervisor gives it to another worker, but only if the worker is
 * alive to read it. A worker that exits first leaves the client hanging on a
 * socket nobody reads. Messages keep their order on the IPC channel, so the
 * supervisor's `exit`, sent after it saw our listener close, comes after
 * every connection it sent us.
 */
function exitWhenReleased(): Promise<void> {
  if (!process.connected) return Promise.resolve();
  return new Promise((resolve) => {
    released = resolve;
    process.once("disconnect", resolve);
    send({ type: "drained" });
  });
}

async function run(): Promise<void> {
  // Inside run(): a bad --access-log path is reported as this worker's boot error.
  const output = createLogger(setup.config);
  const logger = output.logger;
  let requests = 0;
  let retiring = false;
  const onRequest =
    setup.requestLimit > 0
      ? () => {
          if (++requests >= setup.requestLimit && !retiring) {
            retiring = true;
            send({ type: "retire", requests });
          }
        }
      : undefined;
  const running = await startServer(setup.config, logger, {
    multiprocess: setup.multiprocess,
    onRequest,
  });
  const { server, app } = running;
  const stop = (timeoutMs: number) => {
    if (stopping) return;
    stopping = true;
    // A connection the supervisor handed over just before the stop may not
    // have delivered its request yet: give it a moment instead of closing it unused.
    void server
      .close(timeoutMs, UNUSED_GRACE_MS, () => app.close())
      .then(() => output.close())
      .then(() => exitWhenReleased())
      .then(() => {
        if (heartbeat !== null) clearInterval(heartbeat);
        // The last counts, so the supervisor's totals keep this worker's
        // requests. Exiting only once that message is written also flushes
        // node:cluster's answers about connections this worker turned away.
        const last: WorkerMessage =
          server.stats !== null ? { type: "metrics", id: 0, snapshot: running.snapshot() } : { type: "beat" };
        send(last, () => process.exit(0));
      });
  };
  process.on("message", (message: SupervisorMessage) => {
    switch (message?.type) {
      case "stop":
        stop(message.timeoutMs);
        return;
      case "unready":
        running.unready();
        return;
      case "metrics":
        if (server.stats !== null) send({ type: "metrics", id: message.id, snapshot: running.snapshot() });
        return;
      case "reopen-logs":
        if (output.accessFile !== null) reopenAccessLog(output.accessFile, logger);
        return;
      case "exit":
        released?.();
        return;
    }
  });
  // SIGTERM sent to a worker alone: drain and exit; the supervisor replaces it.
  // (Before this point SIGTERM ends a booting worker at once, which is what a
  // worker with nothing in flight should do.) If the supervisor is killed,
  // node:cluster ends its workers itself when the IPC channel closes.
  process.on("SIGTERM", () => stop(server.options.gracefulTimeout));
  send({ type: "listening", urls: server.urls });
}

run().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  const stack = err instanceof Error ? err.stack : undefined;
  const status = err instanceof UsageError ? 2 : 1;
  send({ type: "boot-error", message, status, ...(stack === undefined ? {} : { stack }) }, () =>
    process.exit(3),
  );
});
