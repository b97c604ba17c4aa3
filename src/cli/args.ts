/**
 * The command line: one table of options (flag, value kind, help, where it
 * goes), from which the parser, the `TSGI_*` environment variables and
 * `--help` are all made, so they cannot disagree.
 */

import { delimiter } from "node:path";
import { INTERFACES, type Interface } from "../gateways/interfaces.ts";
import { DEFAULT_LIFESPAN, LIFESPAN_MODES, type LifespanMode } from "../gateways/lifespan.ts";
import type { ParserLimits } from "../http1/limits.ts";
import { DEFAULT_RELOAD_EXCLUDES, DEFAULT_RELOAD_INCLUDES } from "../reload/defaults.ts";
import type { ConcurrencyOptions, RuntimeConfig } from "../runtime/config.ts";
import { UsageError } from "../runtime/errors.ts";
import { ACCESS_LOG_FORMATS, type AccessLogFormat, isAccessLogFormat } from "../server/access-log.ts";
import { formatBind, parseBind } from "../server/listen.ts";
import { isLogLevel, type LogLevel } from "../server/log.ts";
import { DEFAULT_OPTIONS, type ServeOptions } from "../server/options.ts";
import { DEFAULT_FORWARDED_ALLOW_IPS, TrustedProxies } from "../server/proxy-headers.ts";
import type { TlsOptions } from "../server/tls.ts";
import { DEFAULT_CONCURRENCY } from "../workers/options.ts";

/** "trace" is a flag that may take a value with `=` (`--trace`, `--trace=bytes`). */
type Kind = "string" | "path" | "port" | "seconds" | "bytes" | "count" | "integer" | "flag" | "trace";

interface OptionSpec {
  flag: string;
  kind: Kind;
  help: string;
  /** Default shown in --help. */
  shown?: string;
  /** May be given more than once; its environment variable lists values separated like PATH. */
  repeatable?: boolean;
  apply(config: RuntimeConfig, value: string | number | boolean): void;
}

const limit =
  (key: keyof ParserLimits) =>
  (c: RuntimeConfig, v: string | number | boolean): void => {
    c.options.limits[key] = v as number;
  };
const option =
  <K extends keyof ServeOptions>(key: K) =>
  (c: RuntimeConfig, v: string | number | boolean): void => {
    (c.options as Record<string, unknown>)[key] = v;
  };
const concurrency =
  <K extends keyof ConcurrencyOptions>(key: K) =>
  (c: RuntimeConfig, v: string | number | boolean): void => {
    c.concurrency[key] = v as number;
  };
const tlsFile =
  (key: "certFile" | "keyFile" | "passphrase" | "caFile") =>
  (c: RuntimeConfig, v: string | number | boolean): void => {
    c.options.tls = { ...(c.options.tls ?? {}), [key]: v as string } satisfies TlsOptions;
  };
const seconds = (ms: number) => `${ms / 1000}`;
const L = DEFAULT_OPTIONS.limits;

/** Every option, in the order --help lists them. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    flag: "host",
    kind: "string",
    help: "Interface to bind.",
    shown: DEFAULT_OPTIONS.host,
    apply: option("host"),
  },
  {
    flag: "port",
    kind: "port",
    help: "Port to bind; 0 picks a free one.",
    shown: "8000",
    apply: option("port"),
  },
  {
    flag: "bind",
    kind: "string",
    help: "Listen on HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N instead of --host/--port (repeatable).",
    apply: (c, v) => (c.options.bind = [...(c.options.bind ?? []), v as string]),
  },
  {
    flag: "uds",
    kind: "string",
    help: "Listen on this unix domain socket (a stale socket file is replaced, a live one refused).",
    apply: (c, v) => (c.options.bind = [...(c.options.bind ?? []), `unix:${v as string}`]),
  },
  {
    flag: "uds-mode",
    kind: "string",
    help: "Permissions of the unix socket file, in octal (e.g. 660); without it the umask decides.",
    apply(c, v) {
      if (!/^0?[0-7]{3}$/.test(v as string))
        throw new UsageError("--uds-mode must be octal permissions, e.g. 660");
      c.options.udsMode = Number.parseInt(v as string, 8);
    },
  },
  {
    flag: "fd",
    kind: "integer",
    help: "Listen on this inherited socket file descriptor (systemd socket activation: 3).",
    apply: (c, v) => (c.options.bind = [...(c.options.bind ?? []), `fd://${v as number}`]),
  },
  {
    flag: "ssl-certfile",
    kind: "string",
    help: "Serve HTTPS with this PEM certificate chain (needs --ssl-keyfile).",
    apply: tlsFile("certFile"),
  },
  {
    flag: "ssl-keyfile",
    kind: "string",
    help: "The certificate's PEM private key.",
    apply: tlsFile("keyFile"),
  },
  {
    flag: "ssl-keyfile-password",
    kind: "string",
    help: "Passphrase of an encrypted --ssl-keyfile.",
    apply: tlsFile("passphrase"),
  },
  {
    flag: "ssl-ca-certs",
    kind: "string",
    help: "Require client certificates signed by these PEM CA certificates (mutual TLS).",
    apply: tlsFile("caFile"),
  },
  {
    flag: "proxy-headers",
    kind: "flag",
    help: "Take the client's address, scheme and host from X-Forwarded-For/-Proto/-Host or Forwarded, from trusted peers.",
    apply: (c) => (c.options.proxyHeaders = true),
  },
  {
    flag: "forwarded-allow-ips",
    kind: "string",
    help: "Peers trusted by --proxy-headers and --proxy-protocol: IPs, CIDRs, unix, or * for all.",
    shown: DEFAULT_FORWARDED_ALLOW_IPS,
    apply: option("forwardedAllowIps"),
  },
  {
    flag: "proxy-protocol",
    kind: "flag",
    help: "Read a PROXY protocol v1/v2 header (HAProxy, nginx stream, AWS NLB) on connections from trusted peers.",
    apply: (c) => (c.options.proxyProtocol = true),
  },
  {
    flag: "interface",
    kind: "string",
    help: `Gateway interface: ${INTERFACES.join(", ")}.`,
    shown: "auto",
    apply(c, v) {
      if (!(INTERFACES as readonly string[]).includes(v as string)) {
        throw new UsageError(`--interface must be one of ${INTERFACES.join(", ")}`);
      }
      c.interface = v as Interface;
    },
  },
  {
    flag: "no-listen-takeover",
    kind: "flag",
    help: "Node apps: let the app module's own listen() bind, instead of serving its first server on tsgi's address (also TSGI_LISTEN_TAKEOVER=0).",
    apply: (c) => (c.listenTakeover = false),
  },
  {
    flag: "lifespan",
    kind: "string",
    help: `Run the app's startup and shutdown (ASGI lifespan, Fetch hooks): ${LIFESPAN_MODES.join(", ")}.`,
    shown: DEFAULT_LIFESPAN.lifespan,
    apply(c, v) {
      if (!(LIFESPAN_MODES as readonly string[]).includes(v as string)) {
        throw new UsageError(`--lifespan must be one of ${LIFESPAN_MODES.join(", ")}`);
      }
      c.gateway.lifespan = v as LifespanMode;
    },
  },
  {
    flag: "log-level",
    kind: "string",
    help: "critical, error, warning, info or debug (debug adds stack traces).",
    shown: "info",
    apply(c, v) {
      if (!isLogLevel(v as string))
        throw new UsageError("--log-level must be critical, error, warning, info or debug");
      c.options.logLevel = v as LogLevel;
    },
  },
  {
    flag: "trace",
    kind: "trace",
    help: "Write each connection's lifecycle to stderr, step by step (=bytes also shows what was read).",
    apply(c, v) {
      if (v !== true && v !== "bytes") throw new UsageError("--trace takes no value or =bytes");
      c.options.trace = v === true ? "on" : "bytes";
    },
  },
  {
    flag: "socket-reads",
    kind: "string",
    help: "How plain TCP sockets are read: buffer (one shared read buffer, net.Socket's onread path) or stream ('data' events).",
    shown: "buffer",
    apply(c, v) {
      if (v !== "buffer" && v !== "stream") throw new UsageError("--socket-reads takes buffer or stream");
      c.options.socketReads = v;
    },
  },
  {
    flag: "no-access-log",
    kind: "flag",
    help: "Do not log one line per request.",
    apply: (c) => (c.options.accessLog = false),
  },
  {
    flag: "access-log",
    kind: "path",
    help: "Append access lines to this file (reopened on SIGUSR1, for logrotate); - is stdout.",
    shown: "-",
    apply: (c, v) => (c.operations.accessLog = v as string),
  },
  {
    flag: "access-log-format",
    kind: "string",
    help: `Access line format: ${ACCESS_LOG_FORMATS.join(", ")} (each with the response time).`,
    shown: "short",
    apply(c, v) {
      if (!isAccessLogFormat(v as string))
        throw new UsageError(`--access-log-format must be one of ${ACCESS_LOG_FORMATS.join(", ")}`);
      c.operations.accessLogFormat = v as AccessLogFormat;
    },
  },
  {
    flag: "no-server-header",
    kind: "flag",
    help: "Do not send a Server header.",
    apply: (c) => (c.options.serverHeader = null),
  },
  {
    flag: "no-light-response",
    kind: "flag",
    help: "Fetch apps: keep undici's Response as globalThis.Response (slower; see docs/interfaces/fetch.md).",
    apply: (c) => (c.gateway.lightResponse = false),
  },
  {
    flag: "header-timeout",
    kind: "seconds",
    help: "Seconds a client has to send a request head.",
    shown: seconds(DEFAULT_OPTIONS.headerTimeout),
    apply: option("headerTimeout"),
  },
  {
    flag: "body-timeout",
    kind: "seconds",
    help: "Seconds of silence allowed while the app reads the body.",
    shown: seconds(DEFAULT_OPTIONS.bodyTimeout),
    apply: option("bodyTimeout"),
  },
  {
    flag: "keep-alive-timeout",
    kind: "seconds",
    help: "Seconds an idle keep-alive connection stays open.",
    shown: seconds(DEFAULT_OPTIONS.keepAliveTimeout),
    apply: option("keepAliveTimeout"),
  },
  {
    flag: "send-timeout",
    kind: "seconds",
    help: "Seconds a response write may stay blocked by a client that does not read.",
    shown: seconds(DEFAULT_OPTIONS.sendTimeout),
    apply: option("sendTimeout"),
  },
  {
    flag: "graceful-timeout",
    kind: "seconds",
    help: "Seconds in-flight requests get to finish on shutdown.",
    shown: seconds(DEFAULT_OPTIONS.gracefulTimeout),
    apply: option("gracefulTimeout"),
  },
  {
    flag: "startup-timeout",
    kind: "seconds",
    help: "Seconds the app's startup may take before the server gives up (exit 1).",
    shown: seconds(DEFAULT_LIFESPAN.startupTimeout),
    apply: (c, v) => (c.gateway.startupTimeout = v as number),
  },
  {
    flag: "shutdown-timeout",
    kind: "seconds",
    help: "Seconds the app's shutdown may take after the last connection closed.",
    shown: seconds(DEFAULT_LIFESPAN.shutdownTimeout),
    apply: (c, v) => (c.gateway.shutdownTimeout = v as number),
  },
  {
    flag: "max-request-line-size",
    kind: "bytes",
    help: "Longest request line (414 beyond).",
    shown: String(L.maxRequestLineSize),
    apply: limit("maxRequestLineSize"),
  },
  {
    flag: "max-header-size",
    kind: "bytes",
    help: "Largest header section (431 beyond).",
    shown: String(L.maxHeaderSize),
    apply: limit("maxHeaderSize"),
  },
  {
    flag: "max-header-count",
    kind: "count",
    help: "Most header fields (431 beyond).",
    shown: String(L.maxHeaderCount),
    apply: limit("maxHeaderCount"),
  },
  {
    flag: "max-body-size",
    kind: "bytes",
    help: "Largest request body (413 beyond).",
    shown: String(L.maxBodySize),
    apply: limit("maxBodySize"),
  },
  {
    flag: "max-drain-size",
    kind: "bytes",
    help: "Most unread body bytes discarded to keep a connection open.",
    shown: String(DEFAULT_OPTIONS.maxDrainSize),
    apply: option("maxDrainSize"),
  },
  {
    flag: "limit-concurrency",
    kind: "integer",
    help: "Most connections served at once; past it a request gets 503 and the connection closes. 0 no limit.",
    shown: String(DEFAULT_OPTIONS.limitConcurrency),
    apply: option("limitConcurrency"),
  },
  {
    flag: "ws-max-size",
    kind: "bytes",
    help: "Largest WebSocket message, after decompression (closed with 1009 beyond).",
    shown: String(DEFAULT_OPTIONS.wsMaxMessageSize),
    apply: option("wsMaxMessageSize"),
  },
  {
    flag: "ws-max-buffered",
    kind: "bytes",
    help: "Most unsent bytes per WebSocket before the peer is dropped as not reading; 0 no limit.",
    shown: String(DEFAULT_OPTIONS.wsMaxBufferedBytes),
    apply: option("wsMaxBufferedBytes"),
  },
  {
    flag: "ws-max-connections",
    kind: "integer",
    help: "Most WebSockets open at once (503 beyond); 0 no limit.",
    shown: String(DEFAULT_OPTIONS.wsMaxConnections),
    apply: option("wsMaxConnections"),
  },
  {
    flag: "ws-ping-interval",
    kind: "seconds",
    help: "Seconds between server pings on each WebSocket; 0 none.",
    shown: seconds(DEFAULT_OPTIONS.wsPingInterval),
    apply: option("wsPingInterval"),
  },
  {
    flag: "ws-ping-timeout",
    kind: "seconds",
    help: "Seconds a ping may go unanswered before the WebSocket is closed (1011).",
    shown: seconds(DEFAULT_OPTIONS.wsPingTimeout),
    apply: option("wsPingTimeout"),
  },
  {
    flag: "ws-per-message-deflate",
    kind: "flag",
    help: "Offer permessage-deflate compression to WebSocket clients that ask for it.",
    apply: (c) => (c.options.wsPerMessageDeflate = true),
  },
  {
    flag: "workers",
    kind: "count",
    help: "Run COUNT worker processes under a supervisor (docs/concurrency.md); without it, one process.",
    apply: concurrency("workers"),
  },
  {
    flag: "threads",
    kind: "count",
    help: "WSGI-style apps: run the app on COUNT threads per process; without it, on the event loop.",
    apply: concurrency("threads"),
  },
  {
    flag: "max-requests",
    kind: "integer",
    help: "Replace a worker after this many requests; 0 never.",
    shown: String(DEFAULT_CONCURRENCY.maxRequests),
    apply: concurrency("maxRequests"),
  },
  {
    flag: "max-requests-jitter",
    kind: "integer",
    help: "Add up to this many requests at random to --max-requests, per worker.",
    shown: String(DEFAULT_CONCURRENCY.maxRequestsJitter),
    apply: concurrency("maxRequestsJitter"),
  },
  {
    flag: "timeout",
    kind: "seconds",
    help: "Kill and replace a worker silent (e.g. stuck in a request) this long; 0 never.",
    shown: seconds(DEFAULT_CONCURRENCY.timeout),
    apply: concurrency("timeout"),
  },
  {
    flag: "metrics",
    kind: "port",
    help: "Serve Prometheus metrics at /metrics on this port (summed over all workers).",
    apply: (c, v) => (c.operations.metricsPort = v as number),
  },
  {
    flag: "metrics-host",
    kind: "string",
    help: "Interface of the metrics listener.",
    shown: "127.0.0.1",
    apply: (c, v) => (c.operations.metricsHost = v as string),
  },
  {
    flag: "health-path",
    kind: "string",
    help: "Answer this path before the app: 200 while serving, 503 once shutting down (readiness probes).",
    apply(c, v) {
      if (!(v as string).startsWith("/")) throw new UsageError("--health-path must start with /");
      c.operations.healthPath = v as string;
    },
  },
  {
    flag: "shutdown-delay",
    kind: "seconds",
    help: "On SIGTERM keep serving this long (health answering 503) before shutting down.",
    shown: "0",
    apply: (c, v) => (c.operations.shutdownDelay = v as number),
  },
  {
    flag: "reload",
    kind: "flag",
    help: "Development: restart when source files change in the app's directory or a --reload-dir (see --reload-include).",
    apply: (c) => (c.operations.reload = true),
  },
  {
    flag: "reload-dir",
    kind: "path",
    help: "Also watch this directory with --reload (repeatable).",
    repeatable: true,
    apply: (c, v) => c.operations.reloadDirs.push(v as string),
  },
  {
    flag: "reload-include",
    kind: "string",
    help: "With --reload, also reload when files matching this glob change (repeatable; overrides the default excludes).",
    shown: DEFAULT_RELOAD_INCLUDES.join(","),
    repeatable: true,
    apply: (c, v) => c.operations.reloadIncludes.push(v as string),
  },
  {
    flag: "reload-exclude",
    kind: "string",
    help: "With --reload, never reload for files matching this glob (repeatable; wins over every include). The access log and a redirected stdout/stderr never reload.",
    shown: DEFAULT_RELOAD_EXCLUDES.join(","),
    repeatable: true,
    apply: (c, v) => c.operations.reloadExcludes.push(v as string),
  },
];

/**
 * The environment variable that sets `--flag`: `TSGI_` and the flag in
 * capitals with `_` for `-` (`--max-body-size` is `TSGI_MAX_BODY_SIZE`).
 */
export function envName(flag: string): string {
  return `TSGI_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** The text of `tsgi --help`. */
export function helpText(): string {
  const rows = OPTIONS.map((o) => {
    const value =
      o.kind === "flag"
        ? ""
        : o.kind === "trace"
          ? "[=bytes]"
          : ` ${o.kind === "string" ? "TEXT" : o.kind.toUpperCase()}`;
    const shown = o.shown === undefined ? "" : ` [default: ${o.shown}]`;
    return [`  --${o.flag}${value}`, `${o.help}${shown}`];
  });
  rows.push(["  -h, --help", "Show this message and exit."], ["  --version", "Show the version and exit."]);
  const width = Math.max(...rows.map((r) => r[0]!.length)) + 2;
  return [
    "Usage: tsgi [OPTIONS] MODULE[:ATTR]",
    "",
    "  Serve the app exported by MODULE (a .ts or .js file; ATTR defaults to the",
    "  default export, then `app`), or the server a Node app module listen()s on,",
    "  on tsgi's own address (listen() takeover; see --no-listen-takeover).",
    "",
    "  Every option can also be set in the environment: TSGI_ and the option's name",
    "  in capitals with _ for - (TSGI_MAX_BODY_SIZE=50m; TSGI_NO_ACCESS_LOG=1 for a",
    "  flag; TSGI_RELOAD_DIR=a:b for a repeated one). The command line wins.",
    "",
    "Options:",
    ...rows.map(([a, b]) => `${a!.padEnd(width)}${b}`),
    "",
  ].join("\n");
}

const SIZE_RE = /^([0-9]+)\s*([kmg]?)(i?b)?$/i;
const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function convert(spec: OptionSpec, raw: string, name = `--${spec.flag}`): string | number {
  switch (spec.kind) {
    case "string":
    case "path":
      return raw;
    case "port": {
      const n = Number(raw);
      if (!/^[0-9]+$/.test(raw) || n > 65535) throw new UsageError(`${name} must be a port number (0-65535)`);
      return n;
    }
    case "seconds": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n) || n < 0)
        throw new UsageError(`${name} must be a number of seconds`);
      return Math.round(n * 1000);
    }
    case "count": {
      if (!/^[0-9]+$/.test(raw) || Number(raw) < 1)
        throw new UsageError(`${name} must be a positive integer`);
      return Number(raw);
    }
    case "integer": {
      if (!/^[0-9]+$/.test(raw)) throw new UsageError(`${name} must be a whole number`);
      return Number(raw);
    }
    case "bytes": {
      const m = SIZE_RE.exec(raw.trim());
      if (m === null) throw new UsageError(`${name} must be a size in bytes, e.g. 65536 or 64k`);
      return Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
    }
    default:
      return raw;
  }
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/**
 * Applies the `TSGI_*` variables of `env` for every option not in `given`
 * (the flags on the command line, which win). An empty variable counts as unset.
 */
function applyEnvironment(config: RuntimeConfig, env: NodeJS.ProcessEnv, given: ReadonlySet<string>): void {
  for (const spec of OPTIONS) {
    const name = envName(spec.flag);
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "" || given.has(spec.flag)) continue;
    const lower = raw.toLowerCase();
    if (spec.kind === "flag" || spec.kind === "trace") {
      if (FALSE.has(lower)) continue;
      if (TRUE.has(lower)) spec.apply(config, true);
      else if (spec.kind === "trace") spec.apply(config, raw);
      else throw new UsageError(`${name} must be 1 or 0 (it is a flag)`);
      continue;
    }
    const values = spec.repeatable ? raw.split(delimiter).filter((v) => v !== "") : [raw];
    for (const value of values) spec.apply(config, convert(spec, value, name));
  }
}

/**
 * `TSGI_LISTEN_TAKEOVER=0` turns the takeover off, as the more natural
 * spelling of `TSGI_NO_LISTEN_TAKEOVER=1` (either works; `--no-listen-takeover` wins).
 */
function applyTakeoverVariable(config: RuntimeConfig, env: NodeJS.ProcessEnv): void {
  const raw = env.TSGI_LISTEN_TAKEOVER?.trim().toLowerCase();
  if (raw === undefined || raw === "" || TRUE.has(raw)) return;
  if (!FALSE.has(raw)) throw new UsageError("TSGI_LISTEN_TAKEOVER must be 1 or 0");
  config.listenTakeover = false;
}

/**
 * Parses argv (without node and script) and the `TSGI_*` variables of `env`
 * (the command line wins). Returns "help" or "version" for those flags.
 * Only reads: systemd's `LISTEN_FDS` is adopted when the server starts
 * (`adoptSystemdSockets` in runtime/sockets.ts), not here.
 *
 * @example
 * const config = parseCommandLine(["--port", "0", "app.ts"], { TSGI_WORKERS: "2" });
 * // config.options.port === 0, config.concurrency.workers === 2
 */
export function parseCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): RuntimeConfig | "help" | "version" {
  const config: RuntimeConfig = {
    target: "",
    interface: "auto",
    options: { limits: {} },
    gateway: {},
    concurrency: {},
    operations: { reloadDirs: [], reloadIncludes: [], reloadExcludes: [] },
  };
  const byFlag = new Map(OPTIONS.map((o) => [o.flag, o]));
  // Options are applied after the environment's, so each is kept until then.
  const fromArgv: [OptionSpec, string | number | boolean][] = [];
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") return "help";
    if (arg === "--version") return "version";
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      if (arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown option ${arg}`);
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = byFlag.get(flag);
    if (spec === undefined) throw new UsageError(`unknown option --${flag}`);
    if (spec.kind === "trace") {
      fromArgv.push([spec, eq === -1 ? true : arg.slice(eq + 1)]);
      continue;
    }
    if (spec.kind === "flag") {
      if (eq !== -1) throw new UsageError(`--${flag} takes no value`);
      fromArgv.push([spec, true]);
      continue;
    }
    let raw: string | undefined;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else raw = argv[++i];
    if (raw === undefined) throw new UsageError(`--${flag} needs a value`);
    fromArgv.push([spec, convert(spec, raw)]);
  }
  applyEnvironment(config, env, new Set(fromArgv.map(([spec]) => spec.flag)));
  applyTakeoverVariable(config, env);
  for (const [spec, value] of fromArgv) spec.apply(config, value);
  if (positional.length === 0) throw new UsageError("missing MODULE[:ATTR] (see tsgi --help)");
  if (positional.length > 1) throw new UsageError(`unexpected argument ${positional[1]}`);
  config.target = positional[0]!;
  checkConcurrency(config);
  checkListening(config);
  return config;
}

/** Combinations that cannot work, refused before anything starts. */
function checkConcurrency(config: RuntimeConfig): void {
  const c = config.concurrency;
  if (c.workers === undefined) {
    // Only a supervisor can replace a process, so these would silently do nothing.
    for (const [flag, value] of [
      ["max-requests", c.maxRequests],
      ["max-requests-jitter", c.maxRequestsJitter],
      ["timeout", c.timeout],
    ] as const) {
      if (value !== undefined)
        throw new UsageError(`--${flag} needs --workers (only a supervisor replaces workers)`);
    }
  }
  if (c.threads !== undefined && config.interface !== "auto" && config.interface !== "wsgi") {
    throw new UsageError(
      `--threads runs WSGI-style (synchronous) apps; a ${config.interface} app already serves concurrent requests on one thread`,
    );
  }
}

/** Addresses, TLS and proxy settings that cannot work, refused before anything starts. */
function checkListening(config: RuntimeConfig): void {
  const o = config.options;
  const bind = o.bind ?? [];
  for (const spec of bind) {
    try {
      parseBind(spec);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (bind.length > 0 && (o.host !== undefined || o.port !== undefined)) {
    // --host/--port named alongside other addresses: listen there too, first.
    const tcp = {
      kind: "tcp",
      host: o.host ?? DEFAULT_OPTIONS.host,
      port: o.port ?? DEFAULT_OPTIONS.port,
    } as const;
    o.bind = [formatBind(tcp), ...bind];
  }
  if (o.udsMode != null && !(o.bind ?? []).some((b) => b.startsWith("unix:")))
    throw new UsageError("--uds-mode needs --uds PATH or --bind unix:PATH");
  if (o.tls != null && (o.tls.certFile === undefined || o.tls.keyFile === undefined))
    throw new UsageError("TLS needs both --ssl-certfile and --ssl-keyfile");
  if (o.forwardedAllowIps !== undefined && !o.proxyHeaders && !o.proxyProtocol)
    throw new UsageError("--forwarded-allow-ips needs --proxy-headers or --proxy-protocol");
  try {
    TrustedProxies.parse(o.forwardedAllowIps ?? DEFAULT_FORWARDED_ALLOW_IPS);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
