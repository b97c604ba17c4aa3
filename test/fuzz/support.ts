/**
 * Shared machinery of the fuzz tests: time budgets (short in `npm test`, long
 * under `npm run fuzz`), seeds that replay, a fast-check runner that reports
 * the seed, a transcript of what the HTTP core made of some bytes (with the
 * invariants checked on the way), and a small response parser to read back
 * what the serializer wrote.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ServerConnection } from "../../src/http1/connection.ts";
import { LocalProtocolError, RemoteProtocolError } from "../../src/http1/errors.ts";
import { NEED_DATA, PAUSED } from "../../src/http1/events.ts";
import type { ParserLimits } from "../../src/http1/limits.ts";

/** Milliseconds a property may run: `FUZZ_MS` when set (the long run), else `short`. */
export function budget(short: number): number {
  const env = process.env.FUZZ_MS;
  return env !== undefined && env !== "" ? Number(env) : short;
}

/**
 * The seed `npm test` runs with: its short runs replay a fixed stretch of
 * inputs, so the suite gives the same verdict on every run and machine (a
 * slower machine replays a shorter prefix of the same inputs). Exploring
 * new inputs is `npm run fuzz`'s job.
 */
const TEST_SEED = 20261203;

/**
 * The seed of this run: `FUZZ_SEED` to replay one; else, in a long run
 * (`FUZZ_MS` set, as `npm run fuzz` does), a fresh one; else {@link TEST_SEED}.
 */
export function fuzzSeed(): number {
  const env = process.env.FUZZ_SEED;
  if (env !== undefined && env !== "") return Number(env);
  const long = process.env.FUZZ_MS;
  return long !== undefined && long !== "" ? (Date.now() ^ (process.pid << 16)) >>> 1 : TEST_SEED;
}

/** A small deterministic PRNG (LCG), so a seed replays the same inputs. */
export function prng(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
}

/**
 * Runs a fast-check property `minRuns` times, then for `ms` more. A failure
 * throws fast-check's report (counterexample, seed, path) plus the line that
 * replays it. Returns the number of runs, for the figures in docs/reliability.md.
 */
export function checkProperty<T>(name: string, property: fc.IProperty<T>, ms: number, minRuns = 20): number {
  const seed = fuzzSeed();
  // First a fixed number of runs, however slow the machine: a busy CI box
  // must not turn "too few runs" into a failure. Then runs for the time budget.
  const fixed = verdict(name, seed, fc.check(property, { seed, numRuns: minRuns }), ms, minRuns);
  const timedSeed = (seed + 1) | 0;
  // Reported as `seed`: replaying it runs this same second phase again.
  return fixed + verdict(name, seed, fc.check(property, runOptions(timedSeed, ms)), ms, 0);
}

/** {@link checkProperty} for an async property. */
export async function checkAsyncProperty<T>(
  name: string,
  property: fc.IAsyncProperty<T>,
  ms: number,
  minRuns = 20,
): Promise<number> {
  const seed = fuzzSeed();
  const fixed = verdict(name, seed, await fc.check(property, { seed, numRuns: minRuns }), ms, minRuns);
  const timedSeed = (seed + 1) | 0;
  return fixed + verdict(name, seed, await fc.check(property, runOptions(timedSeed, ms)), ms, 0);
}

function runOptions(seed: number, ms: number) {
  return { seed, numRuns: 1_000_000_000, interruptAfterTimeLimit: ms, markInterruptAsFailure: false };
}

function verdict<T>(
  name: string,
  seed: number,
  details: fc.RunDetails<T>,
  ms: number,
  minRuns: number,
): number {
  if (details.failed) {
    const cause =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    const report = `${fc.defaultReportMessage(details) ?? "property failed"}\n${cause}`;
    throw new Error(
      `${name}: replay with FUZZ_SEED=${seed} (fast-check path ${details.counterexamplePath})\n${report}`,
    );
  }
  assert.ok(details.numRuns >= minRuns, `${name}: only ${details.numRuns} runs in ${ms} ms`);
  return details.numRuns;
}

// ---- the HTTP core, driven like the I/O layer drives it -------------------------

/** One request as the core reported it. */
export interface SeenRequest {
  method: string;
  target: string;
  version: 10 | 11;
  headers: string[];
  body: string;
  trailers: string[];
  /** The request's end arrived (its whole body was read). */
  complete: boolean;
}

/** Everything the core made of one input: the requests, then how it stopped. */
export interface Transcript {
  requests: SeenRequest[];
  /** `error <status> <code>`, `close` (a request ended the connection), `eof`, or `open <pending>`. */
  end: string;
}

/** Small limits, so the fuzzers reach every limit often. */
export const SMALL_LIMITS: ParserLimits = {
  maxRequestLineSize: 256,
  maxHeaderSize: 512,
  maxHeaderCount: 12,
  maxBodySize: 2048,
  maxChunkLineSize: 64,
};

/** Empty lines the parser skips before a request line (4) times CRLF; see parser.ts. */
const LEADING_SLACK = 8;
/** More `nextEvent()` calls than any input can justify: a sign the core stopped making progress. */
const STEP_FACTOR = 4;

/**
 * Feeds `input` to a fresh ServerConnection cut at `cuts` (sorted offsets),
 * answering every request at once. Checks on the way that the core makes
 * progress and never holds more than a request head's limits plus the last
 * piece. Only RemoteProtocolError ends the run early (recorded); anything
 * else thrown is a bug and propagates.
 */
export function transcript(
  input: Uint8Array,
  cuts: number[],
  limits: ParserLimits = SMALL_LIMITS,
): Transcript {
  const conn = new ServerConnection({ limits, date: null });
  const requests: SeenRequest[] = [];
  let current: SeenRequest | null = null;
  const maxSteps = STEP_FACTOR * (input.length + 16);
  let steps = 0;
  const bound = limits.maxRequestLineSize + limits.maxHeaderSize + LEADING_SLACK;
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    if (cut > from) pieces.push(input.subarray(from, cut));
    from = Math.max(from, cut);
  }
  const drain = (lastPiece: number): string | null => {
    for (;;) {
      assert.ok(++steps <= maxSteps, "the core made no progress (more events than input bytes)");
      let event: ReturnType<ServerConnection["nextEvent"]>;
      try {
        event = conn.nextEvent();
      } catch (err) {
        if (err instanceof RemoteProtocolError) return `error ${err.status} ${err.code}`;
        throw err;
      }
      if (event === NEED_DATA) {
        assert.ok(
          conn.bufferedBytes <= bound + lastPiece,
          `holds ${conn.bufferedBytes} bytes, over its head limits (${bound}) plus the last piece (${lastPiece})`,
        );
        return null;
      }
      if (event === PAUSED) {
        conn.sendResponse({ status: 200, headers: [] }, Buffer.from("ok"));
        if (!conn.reusable) return "close";
        conn.startNextCycle();
        continue;
      }
      switch (event.type) {
        case "request":
          current = {
            method: event.method,
            target: event.target,
            version: event.version,
            headers: event.headers,
            body: "",
            trailers: [],
            complete: false,
          };
          requests.push(current);
          break;
        case "data":
          current!.body += Buffer.from(event.data).toString("latin1");
          break;
        case "end":
          current!.trailers = event.trailers;
          current!.complete = true;
          break;
        case "closed":
          return "eof";
      }
    }
  };
  for (const piece of pieces) {
    conn.receiveData(piece);
    const end = drain(piece.length);
    if (end !== null) return { requests, end };
  }
  const pending = conn.idle ? "none" : conn.theirState === "SEND_BODY" ? "body" : "head";
  return { requests, end: `open ${pending}` };
}

// ---- a small response parser -------------------------------------------------------

/** A response read back from the serializer's bytes. */
export interface ParsedResponse {
  status: number;
  reason: string;
  headers: [string, string][];
  body: Buffer;
  framing: "length" | "chunked" | "none" | "close";
  /** Bytes after the response (there must be none). */
  rest: number;
}

/**
 * Parses one HTTP/1.1 response, strictly: CRLF lines, `name: value` fields,
 * framing by RFC 9112 §6.3 (no body for HEAD, 1xx, 204, 304; chunked; length;
 * else until the end of `bytes`). Throws on anything malformed.
 */
export function parseResponse(bytes: Buffer, requestMethod: string): ParsedResponse {
  const text = bytes.toString("latin1");
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd === -1) throw new Error("response head not terminated");
  const lines = text.slice(0, headEnd).split("\r\n");
  const m = /^HTTP\/1\.1 ([1-9][0-9]{2}) ([\t\x20-\x7e\x80-\xff]*)$/.exec(lines[0]!);
  if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const status = Number(m[1]);
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const f = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (f === null || /[\x00-\x08\x0a-\x1f\x7f]/.test(f[2]!))
      throw new Error(`bad field line ${JSON.stringify(line)}`);
    headers.push([f[1]!, f[2]!]);
  }
  const get = (name: string) => headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  const te = get("transfer-encoding");
  const cl = get("content-length");
  let pos = headEnd + 4;
  if (requestMethod === "HEAD" || status < 200 || status === 204 || status === 304) {
    return {
      status,
      reason: m[2]!,
      headers,
      body: Buffer.alloc(0),
      framing: "none",
      rest: bytes.length - pos,
    };
  }
  if (te.length > 0) {
    if (te.join(",").toLowerCase() !== "chunked" || cl.length > 0) throw new Error("bad response framing");
    const parts: Buffer[] = [];
    for (;;) {
      const lf = text.indexOf("\r\n", pos);
      if (lf === -1) throw new Error("chunk size line not terminated");
      const sizeText = text.slice(pos, lf);
      if (!/^[0-9a-f]+$/.test(sizeText)) throw new Error(`bad chunk size ${JSON.stringify(sizeText)}`);
      const size = Number.parseInt(sizeText, 16);
      pos = lf + 2;
      if (size === 0) {
        if (text.slice(pos, pos + 2) !== "\r\n") throw new Error("no CRLF after the last chunk");
        pos += 2;
        break;
      }
      parts.push(bytes.subarray(pos, pos + size));
      pos += size;
      if (text.slice(pos, pos + 2) !== "\r\n") throw new Error("chunk data not followed by CRLF");
      pos += 2;
    }
    return {
      status,
      reason: m[2]!,
      headers,
      body: Buffer.concat(parts),
      framing: "chunked",
      rest: bytes.length - pos,
    };
  }
  if (cl.length > 0) {
    if (cl.length > 1 || !/^[0-9]+$/.test(cl[0]!)) throw new Error("bad response Content-Length");
    const n = Number(cl[0]);
    if (bytes.length - pos < n) throw new Error("response body shorter than its Content-Length");
    return {
      status,
      reason: m[2]!,
      headers,
      body: bytes.subarray(pos, pos + n),
      framing: "length",
      rest: bytes.length - pos - n,
    };
  }
  return { status, reason: m[2]!, headers, body: bytes.subarray(pos), framing: "close", rest: 0 };
}

/** True for the two error types a protocol core may throw at a peer's bytes. */
export function isTypedHttpError(err: unknown): boolean {
  return err instanceof RemoteProtocolError || err instanceof LocalProtocolError;
}
