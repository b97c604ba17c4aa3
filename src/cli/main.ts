#!/usr/bin/env node
/**
 * `tsgi [OPTIONS] MODULE[:ATTR]`: turns the command line and the `TSGI_*`
 * environment into a configuration and runs it: in this process (the
 * runtime), or under the `--workers` supervisor, with `--reload` watching
 * the files. Failures print one line and exit non-zero (2 for a usage
 * error); stack traces only with `--log-level debug`.
 */

import { readFileSync } from "node:fs";
import { UsageError } from "../runtime/errors.ts";
import { createLogger } from "../runtime/logging.ts";
import { helpText, parseCommandLine } from "./args.ts";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  // Until the options are parsed, look for the debug level by hand so even a
  // bad command line can show its stack trace.
  let debug =
    process.env.TSGI_LOG_LEVEL === "debug" ||
    argv.some((a, i) => a === "--log-level=debug" || (a === "--log-level" && argv[i + 1] === "debug"));
  try {
    const config = parseCommandLine(argv);
    // Each way of running is imported only once chosen: a single process
    // does not load the supervisor, nor the supervisor the app's handler.
    if (config === "help") {
      process.stdout.write(helpText());
      return 0;
    }
    if (config === "version") {
      process.stdout.write(`tsgi ${version()}\n`);
      return 0;
    }
    if (config.operations.reload) {
      // The reloader supervises one worker (or --workers N) and never loads
      // the app itself, so a broken edit cannot take it down.
      const { logger } = createLogger({ ...config, options: { ...config.options, accessLog: false } });
      debug = logger.enabled("debug");
      const [{ supervise }, { watchForReload }] = await Promise.all([
        import("../workers/supervisor.ts"),
        import("../reload/watcher.ts"),
      ]);
      const watcher = watchForReload(config, logger, () => process.kill(process.pid, "SIGHUP"));
      try {
        return await supervise(config, logger);
      } finally {
        watcher.close();
      }
    }
    // With --workers this process only supervises: it never loads the app
    // (and never writes access lines: the workers open the log themselves).
    if (config.concurrency.workers !== undefined) {
      const { logger } = createLogger({ ...config, options: { ...config.options, accessLog: false } });
      debug = logger.enabled("debug");
      const { supervise } = await import("../workers/supervisor.ts");
      return await supervise(config, logger);
    }
    const output = createLogger(config);
    debug = output.logger.enabled("debug");
    const { runSingleProcess } = await import("../runtime/single.ts");
    return await runSingleProcess(config, output);
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
