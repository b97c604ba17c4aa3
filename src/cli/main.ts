#!/usr/bin/env node
/**
 * `tsgi [OPTIONS] MODULE[:ATTR]`: load an app, serve it, shut down
 * gracefully on SIGINT/SIGTERM. Failures print one line and exit non-zero;
 * stack traces only with `--log-level debug`.
 */

import { readFileSync } from "node:fs";
import { Logger } from "../server/log.ts";
import { Server } from "../server/server.ts";
import { supervise } from "../workers/supervisor.ts";
import { buildHandler } from "./app.ts";
import { helpText, parseCommandLine, UsageError } from "./args.ts";
import { describeListenError } from "./listen-error.ts";
import { readinessLines } from "./sockets.ts";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  // Until the options are parsed, look for the debug level by hand so even a
  // bad command line can show its stack trace.
  let debug = argv.some(
    (a, i) => a === "--log-level=debug" || (a === "--log-level" && argv[i + 1] === "debug"),
  );
  try {
    const config = parseCommandLine(argv);
    if (config === "help") {
      process.stdout.write(helpText());
      return 0;
    }
    if (config === "version") {
      process.stdout.write(`tsgi ${version()}\n`);
      return 0;
    }
    const logger = new Logger(config.options.logLevel ?? "info");
    debug = logger.enabled("debug");
    // With --workers this process only supervises: it never loads the app.
    if (config.concurrency.workers !== undefined) return await supervise(config, logger);
    const app = await buildHandler(config, logger);
    const server = new Server(app.handler, config.options, logger);
    const { host, port } = server.options;
    try {
      await server.listen();
    } catch (err) {
      throw new Error(describeListenError(err as NodeJS.ErrnoException, host, port), { cause: err });
    }
    const status = await new Promise<number>((resolve) => {
      let signalled = false;
      const stop = (signal: NodeJS.Signals) => {
        if (signalled) {
          logger.warning(`${signal} again: exiting without waiting`);
          process.exit(1);
        }
        signalled = true;
        logger.info(`${signal}: shutting down (waiting up to ${server.options.gracefulTimeout / 1000}s)`);
        void server
          .close()
          .then(() => app.close())
          .then(
            () => resolve(0),
            (err: unknown) => {
              // The server is closed either way; a failed shutdown is the app's (lifespan) failure.
              process.stderr.write(`tsgi: error: ${err instanceof Error ? err.message : String(err)}\n`);
              resolve(1);
            },
          );
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      // The readiness line: scripts and tests wait for it, so it is printed at
      // every log level, and only once the signal handlers are in place: a
      // caller woken by it may send SIGTERM before we run another statement.
      process.stderr.write(readinessLines(server.urls));
    });
    logger.info("Stopped");
    return status;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`tsgi: error: ${message}\n`);
    if (debug) {
      // Also the causes: for an import error the trace that matters is the app's, in `cause`.
      let e: unknown = err;
      for (let depth = 0; e instanceof Error && depth < 10; depth++, e = e.cause) {
        process.stderr.write(`${depth === 0 ? "" : "Caused by: "}${e.stack}\n`);
      }
    }
    return err instanceof UsageError ? 2 : 1;
  }
}

// Exit rather than wait for the event loop to empty: an app may keep handles
// open (a pool that a failed or timed-out lifespan never closed, a timer), and
// a server that has stopped must not hang a deploy. stdout and stderr writes
// to pipes and files are synchronous, so nothing written is lost.
process.exit(await main(process.argv.slice(2)));
