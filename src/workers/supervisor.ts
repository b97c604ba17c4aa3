/**
 * The `--workers` supervisor, after gunicorn's arbiter: it forks worker
 * processes (node:cluster), keeps their number up, watches their heartbeats,
 * recycles them after `--max-requests`, and turns signals into graceful stops
 * and zero-downtime reloads (`--reload` triggers the same). It never imports
 * the app: a crash or a hang in app code can only take down a worker. With
 * `--metrics` it serves the sum of its workers' counters; with
 * `--shutdown-delay` it tells them to fail health checks before it stops them.
 * docs/concurrency.md has the signal table and the reasons behind each choice.
 */

import cluster, { type Worker } from "node:cluster";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { RuntimeConfig } from "../runtime/config.ts";
import { UsageError } from "../runtime/errors.ts";
import { listenForMetrics } from "../runtime/metrics.ts";
import { adoptSystemdSockets, readinessLines } from "../runtime/sockets.ts";
import { clearStaleSocket, formatBind, parseBind } from "../server/listen.ts";
import type { Logger } from "../server/log.ts";
import {
  addProcessMetrics,
  addSnapshots,
  countersOnly,
  emptySnapshot,
  type MetricsSnapshot,
} from "../server/metrics.ts";
import { resolveOptions } from "../server/options.ts";
import type { Server } from "../server/server.ts";
import { Backoff } from "./backoff.ts";
import { WorkerBootError } from "./errors.ts";
import { bootTimeout, DEFAULT_CONCURRENCY, requestLimit, type SupervisorSettings } from "./options.ts";
import {
  CONFIG_ENV,
  isWorkerMessage,
  type SupervisorMessage,
  type WorkerConfig,
  type WorkerMessage,
} from "./protocol.ts";

/** Extra time a stopping worker gets past the graceful timeout (its own forced close) before SIGKILL. */
const KILL_GRACE_MS = 2000;

/**
 * How long a scrape waits for the workers' counters. A worker stuck in a
 * request does not answer; its last known counters are used instead, so a
 * scrape is never slower than this.
 */
const SCRAPE_WAIT_MS = 1000;

const DEFAULT_PORT = resolveOptions().port;

/** A port the system considers free on `host` right now. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen({ host, port: 0 }, () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

/** What the supervisor knows about one worker process. */
interface WorkerState {
  readonly worker: Worker;
  readonly pid: number;
  /** Workers of one generation run the same code; SIGHUP starts a new generation. */
  readonly generation: number;
  readonly startedAt: number;
  phase: "booting" | "ready" | "stopping";
  lastBeat: number;
  /** The worker this one is to replace once ready (a retiring one). */
  replaces: WorkerState | null;
  /** It asked to be replaced (`--max-requests`). */
  retiring: boolean;
  /** Why it failed to boot, if it said. */
  bootError: { message: string; status: number } | null;
  killTimer: NodeJS.Timeout | null;
  /** Its counters as last reported (`--metrics`). */
  metrics: MetricsSnapshot | null;
}

/** A scrape waiting for the workers it asked. */
interface Scrape {
  readonly id: number;
  readonly waiting: Set<number>;
  readonly done: () => void;
}

/**
 * Runs the supervisor until it is stopped; resolves with the exit status.
 * Rejects if the first workers cannot boot (with their error, as the CLI would print it).
 *
 * @example
 * process.exitCode = await supervise(parseCommandLine(argv), logger);
 */
export function supervise(config: RuntimeConfig, logger: Logger): Promise<number> {
  // This process binds for its workers: systemd's sockets are its to adopt,
  // before any worker is forked with the environment.
  adoptSystemdSockets(config);
  return new Supervisor(config, logger).run();
}

class Supervisor {
  private readonly settings: SupervisorSettings;
  private readonly states = new Map<number, WorkerState>();
  private readonly backoff = new Backoff();
  private readonly spawnTimers = new Set<NodeJS.Timeout>();
  /** The generation serving traffic, and the one a reload is starting (if any). */
  private serving = 0;
  private reloading: number | null = null;
  /** A reload was asked for while one was in progress (files changed again): start it after. */
  private reloadPending = false;
  private announced = false;
  private shuttingDown = false;
  /** `--shutdown-delay` running: health checks fail, workers still serve. */
  private draining = false;
  /** Counters of workers that have exited, so totals never go down. */
  private retired: MetricsSnapshot = emptySnapshot();
  private readonly scrapes = new Set<Scrape>();
  private scrapeId = 0;
  private metricsServer: Server | null = null;
  private readonly heartbeatMs: number;
  private settle: ((status: number) => void) | null = null;
  private failStartup: ((err: Error) => void) | null = null;
  /** `--reload` and the app failed to load before it ever served: wait for the next change. */
  private awaitingFix = false;

  constructor(
    private config: RuntimeConfig,
    private readonly logger: Logger,
  ) {
    const c = config.concurrency;
    const options = resolveOptions(config.options);
    this.settings = {
      workers: c.workers ?? 1,
      maxRequests: c.maxRequests ?? DEFAULT_CONCURRENCY.maxRequests,
      maxRequestsJitter: c.maxRequestsJitter ?? DEFAULT_CONCURRENCY.maxRequestsJitter,
      timeout: c.timeout ?? DEFAULT_CONCURRENCY.timeout,
      gracefulTimeout: options.gracefulTimeout,
    };
    // Four beats per timeout, at most one a second: a late beat or two never kills a worker.
    this.heartbeatMs =
      this.settings.timeout > 0 ? Math.min(1000, Math.max(25, this.settings.timeout / 4)) : 0;
  }

  async run(): Promise<number> {
    const options = this.config.options;
    if ((options.bind?.length ?? 0) > 0) {
      // Every worker asks node:cluster for the same addresses, which this
      // process binds: so port 0 is resolved here (as below), and a stale
      // unix socket file is cleared here, once, before any worker exists.
      const bind: string[] = [];
      for (const spec of options.bind!) {
        const target = parseBind(spec);
        if (target.kind === "tcp" && target.port === 0) {
          bind.push(formatBind({ ...target, port: await freePort(target.host) }));
          continue;
        }
        if (target.kind === "unix") await clearStaleSocket(target.path);
        bind.push(spec);
      }
      this.config = { ...this.config, options: { ...options, bind } };
    } else if ((options.port ?? DEFAULT_PORT) === 0) {
      // Resolve --port 0 here, once: node:cluster closes the shared socket when
      // its last worker exits, and a worker asking for port 0 again would get
      // a new port; asking for the number announced keeps the address stable.
      this.config = {
        ...this.config,
        options: { ...options, port: await freePort(resolveOptions(options).host) },
      };
    }
    if (this.config.operations.metricsPort !== undefined) await this.startMetrics();
    return await new Promise<number>((resolve, reject) => {
      this.settle = resolve;
      this.failStartup = reject;
      // Round-robin: the supervisor accepts and hands each connection to the next
      // worker. Node's alternative (workers accept on a shared socket) leaves the
      // balance to the kernel, which on Linux piles connections onto a few workers.
      cluster.schedulingPolicy = cluster.SCHED_RR;
      // Up one folder and down again: in dist this code lives in a shared chunk
      // one folder below dist, beside workers/ (scripts/bundle.mjs).
      const worker = import.meta.url.endsWith(".ts") ? "../workers/worker.ts" : "../workers/worker.js";
      const entry = new URL(worker, import.meta.url);
      cluster.setupPrimary({ exec: fileURLToPath(entry), args: [] });
      cluster.on("message", (worker, message) => {
        if (isWorkerMessage(message)) this.onMessage(worker, message);
      });
      cluster.on("exit", (worker, code, signal) => this.onExit(worker, code, signal));
      process.on("SIGINT", () => this.stop("SIGINT"));
      process.on("SIGTERM", () => this.stop("SIGTERM"));
      process.on("SIGHUP", () => this.reload());
      // Only with a log file: SIGUSR1 otherwise starts Node's inspector, and we leave it that.
      if ((this.config.operations.accessLog ?? "-") !== "-") {
        process.on("SIGUSR1", () => this.broadcast({ type: "reopen-logs" }));
      }
      if (this.heartbeatMs > 0) setInterval(() => this.checkHeartbeats(), this.heartbeatMs).unref();
      for (let i = 0; i < this.settings.workers; i++) this.spawn(0, null);
    });
  }

  // ---- workers ----------------------------------------------------------------------

  private spawn(generation: number, replaces: WorkerState | null): void {
    const workerConfig: WorkerConfig = {
      config: this.config,
      requestLimit: requestLimit(this.settings.maxRequests, this.settings.maxRequestsJitter),
      heartbeatMs: this.heartbeatMs,
      multiprocess: this.settings.workers > 1,
    };
    const worker = cluster.fork({ [CONFIG_ENV]: JSON.stringify(workerConfig) });
    const now = Date.now();
    this.states.set(worker.id, {
      worker,
      pid: worker.process.pid ?? 0,
      generation,
      startedAt: now,
      phase: "booting",
      lastBeat: now,
      replaces,
      retiring: false,
      bootError: null,
      killTimer: null,
      metrics: null,
    });
    worker.on("error", (err) => this.logger.error(`worker ${worker.process.pid}: IPC error`, err));
  }

  private onMessage(worker: Worker, message: WorkerMessage): void {
    const state = this.states.get(worker.id);
    if (state === undefined) return;
    state.lastBeat = Date.now();
    switch (message.type) {
      case "beat":
        return;
      case "listening":
        this.onReady(state, message);
        return;
      case "boot-error":
        state.bootError = { message: message.message, status: message.status };
        if (message.stack !== undefined) this.logger.debug(`worker ${state.pid}: ${message.stack}`);
        return;
      case "metrics":
        state.metrics = message.snapshot;
        for (const scrape of this.scrapes) {
          if (scrape.id === message.id && scrape.waiting.delete(worker.id) && scrape.waiting.size === 0)
            scrape.done();
        }
        return;
      case "drained":
        // node:cluster has seen this worker's listener close (its message came
        // first on the channel): no connection will follow this answer.
        worker.send({ type: "exit" } satisfies SupervisorMessage);
        return;
      case "retire":
        if (state.retiring || this.shuttingDown || state.phase !== "ready") return;
        state.retiring = true;
        this.logger.info(
          `worker ${state.pid} served ${message.requests} requests (--max-requests): replacing it`,
        );
        this.spawn(state.generation, state);
        return;
    }
  }

  private onReady(state: WorkerState, address: Extract<WorkerMessage, { type: "listening" }>): void {
    if (state.phase !== "booting") return;
    state.phase = "ready";
    this.logger.debug(`worker ${state.pid} ready (generation ${state.generation})`);
    if (this.shuttingDown) {
      this.stopWorker(state);
      return;
    }
    if (this.draining) state.worker.send({ type: "unready" } satisfies SupervisorMessage);
    if (state.replaces !== null) {
      const old = state.replaces;
      state.replaces = null;
      if (this.states.get(old.worker.id) === old) this.stopWorker(old);
    }
    if (!this.announced) {
      if (this.countReady(0) < this.settings.workers) return;
      this.announced = true;
      this.failStartup = null;
      const n = this.settings.workers;
      this.logger.info(`Started ${n} worker${n === 1 ? "" : "s"}: ${this.pids(0).join(", ")}`);
      // The readiness line: scripts and tests wait for it, so it is printed at every log level.
      process.stderr.write(readinessLines(address.urls));
      return;
    }
    if (this.reloading !== null && this.countReady(this.reloading) === this.settings.workers) {
      // Every new worker is accepting: only now do the old ones stop.
      this.serving = this.reloading;
      this.reloading = null;
      for (const other of this.states.values()) {
        if (other.generation < this.serving) this.stopWorker(other);
      }
      this.logger.info(`Reloaded: workers ${this.pids(this.serving).join(", ")} serve the new code`);
      this.reloadIfPending();
    }
  }

  // ---- metrics ----------------------------------------------------------------------

  /** Starts the `--metrics` listener (before any worker: a port in use fails the start). */
  private async startMetrics(): Promise<void> {
    this.metricsServer = await listenForMetrics(this.config, () => this.collectMetrics(), this.logger);
  }

  /** Asks every live worker for its counters and sums them with those of exited workers. */
  private async collectMetrics(): Promise<MetricsSnapshot> {
    const id = ++this.scrapeId;
    const asked = [...this.states.values()].filter((s) => s.phase !== "booting" && s.worker.isConnected());
    if (asked.length > 0) {
      await new Promise<void>((resolve) => {
        const scrape: Scrape = {
          id,
          waiting: new Set(asked.map((s) => s.worker.id)),
          done: () => {
            clearTimeout(timer);
            this.scrapes.delete(scrape);
            resolve();
          },
        };
        const timer = setTimeout(scrape.done, SCRAPE_WAIT_MS);
        this.scrapes.add(scrape);
        for (const state of asked) state.worker.send({ type: "metrics", id } satisfies SupervisorMessage);
      });
    }
    let total = this.retired;
    for (const state of this.states.values()) {
      if (state.metrics !== null) total = addSnapshots(total, state.metrics);
    }
    // The supervisor's own CPU and memory are part of what the server costs.
    return addProcessMetrics({ ...total });
  }

  private broadcast(message: SupervisorMessage): void {
    for (const state of this.states.values()) {
      if (state.phase !== "booting" && state.worker.isConnected()) state.worker.send(message);
    }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const state = this.states.get(worker.id);
    if (state === undefined) return;
    this.states.delete(worker.id);
    if (state.killTimer !== null) clearTimeout(state.killTimer);
    if (state.metrics !== null) this.retired = addSnapshots(this.retired, countersOnly(state.metrics));
    for (const scrape of this.scrapes) {
      if (scrape.waiting.delete(worker.id) && scrape.waiting.size === 0) scrape.done();
    }
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    if (state.phase === "stopping") {
      this.logger.debug(`worker ${state.pid} stopped (${how})`);
      if (this.shuttingDown && this.states.size === 0) this.finish(0);
      return;
    }
    const reason = state.bootError?.message ?? `worker ${state.pid} exited with ${how}`;
    if (!this.announced && this.config.operations.reload && state.bootError?.status !== 2) {
      // While developing, a first load that fails is an edit to fix, not a reason to quit:
      // print why and start again on the next change, as later reloads do.
      if (!this.awaitingFix) {
        this.awaitingFix = true;
        this.logger.error(`the app failed to load; waiting for a change to try again: ${reason}`);
        for (const other of this.states.values()) this.stopWorker(other);
      }
      return;
    }
    if (!this.announced) {
      this.abortStartup(state.bootError?.status === 2 ? new UsageError(reason) : new WorkerBootError(reason));
      return;
    }
    if (this.shuttingDown) {
      if (this.states.size === 0) this.finish(0);
      return;
    }
    if (state.generation === this.reloading) {
      this.abortReload(reason);
      return;
    }
    const delay = this.backoff.next(Date.now() - state.startedAt);
    this.logger.error(
      state.bootError !== null
        ? `worker ${state.pid} failed to boot: ${reason}`
        : `worker ${state.pid} died (${how})`,
    );
    // A booting replacement for a retiring worker now replaces this death instead.
    const successor = [...this.states.values()].find((s) => s.replaces === state);
    if (successor !== undefined) {
      successor.replaces = null;
      return;
    }
    if (delay > 0)
      this.logger.warning(`${this.backoff.count} deaths in a row: next worker in ${delay / 1000}s`);
    const timer = setTimeout(() => {
      this.spawnTimers.delete(timer);
      if (!this.shuttingDown) this.spawn(this.serving, state.replaces);
    }, delay);
    this.spawnTimers.add(timer);
  }

  /** Graceful stop of one worker, with SIGKILL if it outlives its drain. */
  private stopWorker(state: WorkerState): void {
    if (state.phase === "stopping") return;
    const wasBooting = state.phase === "booting";
    state.phase = "stopping";
    if (wasBooting) {
      // Nothing in flight yet; its SIGTERM handler is not installed before it listens.
      state.worker.process.kill("SIGTERM");
    } else {
      const message: SupervisorMessage = { type: "stop", timeoutMs: this.settings.gracefulTimeout };
      state.worker.send(message);
    }
    state.killTimer = setTimeout(() => {
      this.logger.warning(`worker ${state.pid} still running after its graceful timeout: SIGKILL`);
      state.worker.process.kill("SIGKILL");
    }, this.settings.gracefulTimeout + KILL_GRACE_MS);
  }

  /** gunicorn's murder_workers: a worker whose event loop stopped beating for `--timeout` is killed and replaced. */
  private checkHeartbeats(): void {
    const now = Date.now();
    for (const state of this.states.values()) {
      if (state.phase === "ready" && now - state.lastBeat > this.settings.timeout) {
        this.logger.error(
          `worker ${state.pid} timed out (no heartbeat for ${(now - state.lastBeat) / 1000}s): SIGKILL`,
        );
        state.worker.process.kill("SIGKILL");
      } else if (state.phase === "booting" && now - state.startedAt > bootTimeout(this.settings.timeout)) {
        this.logger.error(`worker ${state.pid} did not start listening in time: SIGKILL`);
        state.worker.process.kill("SIGKILL");
      }
    }
  }

  // ---- signals ----------------------------------------------------------------------

  /**
   * SIGTERM / SIGINT: with `--shutdown-delay`, workers fail their health
   * checks and keep serving for that long first; then every worker drains.
   * A second signal kills them all at once.
   */
  private stop(signal: NodeJS.Signals): void {
    if (this.shuttingDown || this.draining) {
      this.logger.warning(`${signal} again: killing the workers without waiting`);
      for (const state of this.states.values()) state.worker.process.kill("SIGKILL");
      process.exit(1);
    }
    const delay = this.config.operations.shutdownDelay ?? 0;
    if (delay > 0 && this.announced) {
      this.draining = true;
      this.logger.info(`${signal}: failing health checks, still serving for ${delay / 1000}s`);
      this.broadcast({ type: "unready" });
      setTimeout(() => this.shutDown(signal), delay);
      return;
    }
    this.shutDown(signal);
  }

  private shutDown(signal: NodeJS.Signals): void {
    this.shuttingDown = true;
    void this.metricsServer?.close(0);
    this.logger.info(`${signal}: shutting down (waiting up to ${this.settings.gracefulTimeout / 1000}s)`);
    for (const timer of this.spawnTimers) clearTimeout(timer);
    this.spawnTimers.clear();
    for (const state of this.states.values()) this.stopWorker(state);
    if (this.states.size === 0) this.finish(0);
  }

  /** SIGHUP: start a new generation with freshly loaded code; stop the old one once all of it listens. */
  private reload(): void {
    if (this.awaitingFix && !this.shuttingDown) {
      this.awaitingFix = false;
      this.logger.info("change seen: loading the app again");
      for (let i = 0; i < this.settings.workers; i++) this.spawn(this.serving, null);
      return;
    }
    if (!this.announced || this.shuttingDown || this.draining) return;
    if (this.reloading !== null) {
      // The code changed again while the new workers boot: reload once more when they are done.
      this.logger.info("SIGHUP: a reload is in progress; another follows it");
      this.reloadPending = true;
      return;
    }
    const generation = Math.max(...[...this.states.values()].map((s) => s.generation), this.serving) + 1;
    this.reloading = generation;
    this.logger.info(`SIGHUP: reloading (starting ${this.settings.workers} new workers)`);
    for (let i = 0; i < this.settings.workers; i++) this.spawn(generation, null);
  }

  /** A new generation could not start: keep serving with the old one. */
  private abortReload(reason: string): void {
    const generation = this.reloading;
    this.reloading = null;
    this.logger.error(`reload failed, the running workers keep serving: ${reason}`);
    for (const state of this.states.values()) {
      if (state.generation === generation) this.stopWorker(state);
    }
    this.reloadIfPending();
  }

  private reloadIfPending(): void {
    if (!this.reloadPending) return;
    this.reloadPending = false;
    this.reload();
  }

  // ---- the end ----------------------------------------------------------------------

  private abortStartup(err: Error): void {
    const fail = this.failStartup;
    if (fail === null) return;
    this.failStartup = null;
    this.settle = null; // the caller reports the error; no "Stopped" line after it
    this.shuttingDown = true;
    for (const state of this.states.values()) {
      state.phase = "stopping";
      state.worker.process.kill("SIGKILL");
    }
    fail(err);
  }

  private finish(status: number): void {
    if (this.settle === null) return;
    this.logger.info("Stopped");
    this.settle(status);
    this.settle = null;
  }

  private countReady(generation: number): number {
    let n = 0;
    for (const s of this.states.values()) if (s.generation === generation && s.phase === "ready") n++;
    return n;
  }

  private pids(generation: number): number[] {
    return [...this.states.values()].filter((s) => s.generation === generation).map((s) => s.pid);
  }
}
