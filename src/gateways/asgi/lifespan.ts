/**
 * The lifespan scope (ASGI lifespan spec 2.0): one app call that lives as long
 * as the server. receive() gives `lifespan.startup`, then, once the server has
 * closed every connection, `lifespan.shutdown`; the app answers each with
 * `.complete` or `.failed`. What an exception or an early return means
 * depends on the mode, as in uvicorn (see {@link LifespanMode}).
 */

import type { Logger } from "../../server/log.ts";
import { type Lifespan, LifespanError, type LifespanOptions, withTimeout } from "../lifespan.ts";
import { ASGIContractError } from "./errors.ts";
import type {
  ASGIApp,
  ASGIState,
  LifespanReceiveEvent,
  LifespanScope,
  ReceiveEvent,
  SendEvent,
} from "./types.ts";

/** The lifespan spec version we implement. */
export const LIFESPAN_SPEC_VERSION = "2.0";

/** A promise with its settle functions, for events that arrive from both sides. */
interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs an ASGI-style app's lifespan scope. `state` is the scope's state
 * object; the http and websocket scopes get a shallow copy of it.
 */
export class ASGILifespan implements Lifespan {
  /** The lifespan `state`, filled by the app during startup. */
  readonly state: ASGIState = {};
  /**
   * Where the conversation stands: not started; waiting for startup.complete;
   * running; waiting for shutdown.complete; over (also when unsupported).
   */
  private phase: "idle" | "starting" | "started" | "stopping" | "over" = "idle";
  private readonly started = deferred();
  private readonly stopped = deferred();
  /** Resolves the receive() that waits for `lifespan.shutdown`. */
  private shutdownRequested: (() => void) | null = null;
  private shutdownSignal: Promise<void>;

  constructor(
    private readonly app: ASGIApp,
    private readonly options: LifespanOptions,
    private readonly logger: Logger,
  ) {
    this.shutdownSignal = new Promise((resolve) => {
      this.shutdownRequested = resolve;
    });
    // Neither rejection is an unhandled one: startup()/shutdown() hand them on.
    this.started.promise.catch(() => {});
    this.stopped.promise.catch(() => {});
  }

  startup(): Promise<void> {
    if (this.phase !== "idle") return this.started.promise;
    this.phase = "starting";
    const scope: LifespanScope = {
      type: "lifespan",
      asgi: { version: "3.0", spec_version: LIFESPAN_SPEC_VERSION },
      state: this.state,
    };
    let result: Promise<void>;
    try {
      result = Promise.resolve(this.app(scope, this.receive, this.send));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => this.returned(),
      (err) => this.raised(err),
    );
    return withTimeout(this.started.promise, this.options.startupTimeout, "application startup");
  }

  shutdown(): Promise<void> {
    if (this.phase === "stopping") return this.stopped.promise;
    if (this.phase !== "started") return Promise.resolve(); // never started, unsupported, or the app is gone
    this.phase = "stopping";
    this.shutdownRequested!();
    return withTimeout(this.stopped.promise, this.options.shutdownTimeout, "application shutdown");
  }

  private receivedStartup = false;

  private readonly receive = async (): Promise<ReceiveEvent> => {
    if (!this.receivedStartup) {
      this.receivedStartup = true;
      return { type: "lifespan.startup" } satisfies LifespanReceiveEvent;
    }
    await this.shutdownSignal;
    return { type: "lifespan.shutdown" } satisfies LifespanReceiveEvent;
  };

  private readonly send = async (event: SendEvent): Promise<void> => {
    if (event === null || typeof event !== "object")
      throw new ASGIContractError("send() takes an event object");
    const type = event.type;
    if (this.phase === "starting" && type === "lifespan.startup.complete") {
      this.phase = "started";
      this.logger.info("Application startup complete.");
      this.started.resolve();
      return;
    }
    if (this.phase === "starting" && type === "lifespan.startup.failed") {
      this.phase = "over";
      this.started.reject(new LifespanError(failure("startup", event.message)));
      return;
    }
    if (this.phase === "stopping" && type === "lifespan.shutdown.complete") {
      this.phase = "over";
      this.logger.info("Application shutdown complete.");
      this.stopped.resolve();
      return;
    }
    if (this.phase === "stopping" && type === "lifespan.shutdown.failed") {
      this.phase = "over";
      this.stopped.reject(new LifespanError(failure("shutdown", event.message)));
      return;
    }
    throw new ASGIContractError(`unexpected ${String(type)} in the lifespan scope (${this.phase})`);
  };

  /** The app returned: whatever it did not complete is taken as done, as uvicorn does. */
  private returned(): void {
    const phase = this.phase;
    this.phase = "over";
    if (phase === "starting") {
      if (this.options.lifespan === "on") {
        this.logger.warning("the app returned from the lifespan scope without completing startup");
      } else {
        this.logger.info("ASGI 'lifespan' protocol appears unsupported.");
      }
      this.started.resolve();
    } else if (phase === "stopping") {
      this.stopped.resolve();
    }
  }

  private raised(err: unknown): void {
    const phase = this.phase;
    this.phase = "over";
    if (phase === "starting") {
      if (this.options.lifespan === "auto") {
        // uvicorn's rule: an app that raises before completing or failing startup
        // does not speak the protocol (typically an http-only app that sent an
        // http event here, or asserted on scope.type); serve it anyway.
        this.logger.info("ASGI 'lifespan' protocol appears unsupported.");
        this.logger.debug(`the app raised on the lifespan scope: ${messageOf(err)}`);
        this.started.resolve();
        return;
      }
      this.started.reject(
        new LifespanError(
          `exception in the lifespan scope during startup: ${messageOf(err)}`,
          "TSGI_ERR_LIFESPAN_FAILED",
          {
            cause: err,
          },
        ),
      );
    } else if (phase === "stopping") {
      this.stopped.reject(
        new LifespanError(
          `exception in the lifespan scope during shutdown: ${messageOf(err)}`,
          "TSGI_ERR_LIFESPAN_FAILED",
          {
            cause: err,
          },
        ),
      );
    } else if (phase === "started") {
      this.logger.error("the lifespan scope raised while the server was running", err);
    }
  }
}

function failure(what: string, message: unknown): string {
  const text = typeof message === "string" && message !== "" ? `: ${message}` : "";
  return `application ${what} failed${text}`;
}
