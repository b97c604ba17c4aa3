/**
 * A/B microbenchmark: two source trees of tsgi loaded into ONE process and
 * run alternately, so both see the same CPU, the same neighbours on a shared
 * machine and the same JIT. Measures CPU time (`process.cpuUsage()`, user +
 * system), not wall-clock, per request. The order inside a round alternates
 * (AB, BA, ...) so neither side always runs first.
 *
 * Run: node --import tsx bench/micro/parser-ab.ts <rootA> <rootB> [parser|core|fetch|wsgi] [rounds] [N]
 *   rootA, rootB: directories holding a `src/` of tsgi (e.g. an old commit
 *   exported with `git archive <commit> src | tar -x -C /tmp/old`, and `.`),
 *   each with a package.json saying "type": "module" (else tsx compiles CommonJS).
 * Modes: parser = RequestParser alone (the GET of core.ts); core = core.ts's
 * loop (ServerConnection: GET in, small response out); fetch and wsgi =
 * request-path.ts's loop (HttpConnection on a stand-in socket, through a
 * gateway; fetch waits for each response, answered in promise jobs, before
 * the next request).
 * Known defect: in fetch mode the A side comes out ~10x slower whichever
 * tree it is (two HttpConnections with the Fetch gateway in one process; not
 * understood yet), so compare fetch across alternating processes instead.
 * Both orders (A B and B A as arguments) are worth running: the tree loaded
 * second tends to come out a few percent slower.
 */

import { existsSync, readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { StandInSocket } from "./stand-in-socket.ts";

const [rootA, rootB] = [process.argv[2], process.argv[3]];
if (rootA === undefined || rootB === undefined) {
  console.error("usage: parser-ab.ts <rootA> <rootB> [parser|core|fetch|wsgi] [rounds] [N]");
  process.exit(2);
}
for (const root of [rootA, rootB]) {
  // Without "type": "module" above them, tsx compiles the .ts files to CommonJS,
  // where every imported binding is a getter call: several times slower.
  const pkg = resolve(root, "package.json");
  if (!existsSync(pkg) || JSON.parse(readFileSync(pkg, "utf8")).type !== "module") {
    console.error(`${pkg} must exist and say "type": "module" (echo '{"type":"module"}' > ${pkg})`);
    process.exit(2);
  }
}
const mode = process.argv[4] ?? "parser";
const ROUNDS = Number(process.argv[5] ?? 20);
const N = Number(process.argv[6] ?? (mode === "parser" ? 300_000 : mode === "core" ? 200_000 : 100_000));

const coreRequest = Buffer.from(
  "GET /plaintext?x=1 HTTP/1.1\r\nHost: localhost:8000\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
    "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
    "Connection: keep-alive\r\nCookie: session=abcdef0123456789; theme=dark\r\n\r\n",
);
const pathRequest = Buffer.from(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n",
);

const load = (root: string, file: string) => import(pathToFileURL(resolve(root, "src", file)).href);

/**
 * A fresh function from source text: closures of one function literal share
 * their feedback and optimized code in V8, so a loop written once here and
 * run over both trees would see both trees' classes (polymorphic calls, no
 * inlining) and favour whichever ran first. Each tree gets its own copy.
 */
function loop(params: string[], body: string): (...args: unknown[]) => void {
  return new Function(...params, body) as (...args: unknown[]) => void;
}

/** Builds the loop of `mode` on the tree at `root`: a function running `n` requests. */
async function setup(root: string): Promise<(n: number) => void | Promise<void>> {
  if (mode === "parser") {
    const { RequestParser } = await load(root, "http1/index.ts");
    const parser = new RequestParser();
    const run = loop(
      ["parser", "request", "n"],
      `for (let i = 0; i < n; i++) {
        parser.receiveData(request);
        parser.nextEvent(); // head
        parser.nextEvent(); // end
        parser.startNextCycle();
      }`,
    );
    return (n) => run(parser, coreRequest, n);
  }
  if (mode === "core") {
    const { ServerConnection } = await load(root, "http1/index.ts");
    const body = Buffer.from("Hello, World!");
    const headers = ["Content-Type", "text/plain"];
    const conn = new ServerConnection({ date: () => "Tue, 24 Nov 2026 18:00:00 GMT" });
    const run = loop(
      ["conn", "request", "headers", "body", "n"],
      `for (let i = 0; i < n; i++) {
        conn.receiveData(request);
        conn.nextEvent();
        conn.nextEvent();
        conn.sendResponse({ status: 200, headers }, body);
        conn.startNextCycle();
      }`,
    );
    return (n) => run(conn, coreRequest, headers, body, n);
  }
  const { HttpConnection } = await load(root, "server/connection.ts");
  const { Logger } = await load(root, "server/log.ts");
  const { resolveOptions } = await load(root, "server/options.ts");
  const logger = new Logger("error");
  let handler: unknown;
  if (mode === "wsgi") {
    const { wsgiGateway } = await load(root, "gateways/wsgi/gateway.ts");
    handler = wsgiGateway(
      (_environ: unknown, startResponse: (s: string, h: [string, string][]) => void) => {
        startResponse("200 OK", [["Content-Type", "text/plain"]]);
        return ["Hello, World!"];
      },
      { logger },
    );
  } else {
    const { fetchGateway } = await load(root, "gateways/fetch/gateway.ts");
    handler = fetchGateway({
      fetch: () => new Response("Hello, World!", { headers: { "Content-Type": "text/plain" } }),
    });
  }
  const host = {
    options: resolveOptions({ accessLog: false }),
    logger,
    handler,
    shuttingDown: false,
    webSocketCount: 0,
    tracer: null,
    proxyTrust: null,
    connectionClosed() {},
    connectionUpgraded() {},
    sessionClosed() {},
  };
  // One stand-in socket class per tree, for the same reason as loop().
  const Socket = new Function("Base", "return class extends Base {}")(StandInSocket) as typeof StandInSocket;
  const socket = new Socket();
  new HttpConnection(socket as unknown as Socket, host);
  if (mode === "wsgi") {
    const run = loop(["socket", "request", "n"], `for (let i = 0; i < n; i++) socket.emit("data", request);`);
    return (n) => run(socket, pathRequest, n);
  }
  // The Fetch gateway answers in promise jobs, after emit() returns: each
  // request waits for its response (a setImmediate turn, on both sides alike)
  // rather than piling up thousands of pipelined requests.
  const run = loop(
    ["socket", "request", "n", "turn"],
    `return (async () => {
      for (let i = 0; i < n; i++) {
        const before = socket.bytes;
        socket.emit("data", request);
        while (socket.bytes === before) await turn();
      }
    })();`,
  ) as unknown as (...args: unknown[]) => Promise<void>;
  const turn = () => new Promise((done) => setImmediate(done));
  return (n) => run(socket, pathRequest, n, turn);
}

async function cpuNs(run: (n: number) => void | Promise<void>, n: number): Promise<number> {
  const t0 = process.cpuUsage();
  await run(n);
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / n;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
};

const runA = await setup(rootA);
const runB = await setup(rootB);
// Warm-up: both sides reach their optimized code before any round counts.
for (let w = 0; w < 3; w++) {
  await runA(N / 2);
  await runB(N / 2);
}

const a: number[] = [];
const b: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  let ta: number;
  let tb: number;
  if (r % 2 === 0) {
    ta = await cpuNs(runA, N);
    tb = await cpuNs(runB, N);
  } else {
    tb = await cpuNs(runB, N);
    ta = await cpuNs(runA, N);
  }
  a.push(ta);
  b.push(tb);
  ratios.push(tb / ta);
}

const fmt = (xs: number[]) =>
  `median ${median(xs).toFixed(0)} ns (q1 ${quantile(xs, 0.25).toFixed(0)}, q3 ${quantile(xs, 0.75).toFixed(0)}, min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
console.log(`mode ${mode}, ${ROUNDS} alternating rounds of ${N} requests, CPU ns per request`);
console.log(`A ${rootA}: ${fmt(a)}`);
console.log(`B ${rootB}: ${fmt(b)}`);
const pct = (x: number) => `${x >= 1 ? "+" : ""}${((x - 1) * 100).toFixed(1)}%`;
console.log(
  `B/A per round: median ${pct(median(ratios))} (q1 ${pct(quantile(ratios, 0.25))}, q3 ${pct(quantile(ratios, 0.75))}); B faster in ${ratios.filter((x) => x < 1).length}/${ROUNDS} rounds`,
);
