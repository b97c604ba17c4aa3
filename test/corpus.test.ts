/**
 * Runs the gunicorn and llhttp request corpora (test/fixtures/corpus) against
 * the sans-IO request parser.
 *
 * Every case is fed whole, then split in two at every byte boundary, then one
 * byte at a time; all runs must give the same outcome. A case either meets
 * the corpus expectation or is listed in allowlist.json, which states what we
 * do instead and why; an allowlisted case must do exactly that and must not
 * meet the corpus expectation (so a stale entry fails).
 *
 * The harness plays the part of a server connection: after a request that
 * closes the connection (no keep-alive) or switches protocols (CONNECT, or
 * `Connection: upgrade` + `Upgrade`) it stops reading, and the bytes left are
 * not HTTP/1.1 any more. Where a request is refused only for lacking Host,
 * Host is added and the case run again (see ADDED_HOST).
 *
 * Results are written up in docs/http-conformance.md; the fixtures and how to
 * refresh them are described in test/fixtures/corpus/README.md.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { RemoteProtocolError } from "../src/http1/errors.ts";
import { NEED_DATA, PAUSED } from "../src/http1/events.ts";
import { RequestParser } from "../src/http1/parser.ts";

const FIXTURES = new URL("./fixtures/corpus/", import.meta.url);

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(new URL(path, FIXTURES), "utf8")) as T;
}

// ---- what the parser did ------------------------------------------------------

type Field = [name: string, value: string];

interface ParsedRequest {
  method: string;
  target: string;
  version: 10 | 11;
  headers: Field[];
  /** Body bytes as latin-1 (one char per byte). */
  body: string;
  trailers: Field[];
  complete: boolean;
}

/**
 * Why reading stopped: `eof` the peer closed between requests, `close` the
 * last request did not keep the connection alive, `upgrade` it switches
 * protocols, `open` all input was used and the parser waits for more.
 */
type Stop = "eof" | "close" | "upgrade" | "open";

type Outcome =
  | {
      kind: "ok";
      requests: ParsedRequest[];
      stop: Stop;
      /** With `open`: what the parser is in the middle of. */
      pending: "none" | "head" | "body";
      /** Bytes never parsed (after `close` or `upgrade`). */
      leftover: number;
    }
  | {
      kind: "error";
      status: number;
      code: string;
      message: string;
      /** Offset of the first byte of the request being parsed when the error was thrown. */
      requestStart: number;
    };

function pairs(flat: readonly string[]): Field[] {
  const out: Field[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** Feeds `chunks` in order, optionally followed by EOF, and collects every request. */
function drive(chunks: readonly Uint8Array[], eof: boolean): Outcome {
  const parser = new RequestParser();
  const requests: ParsedRequest[] = [];
  let current: ParsedRequest | null = null;
  let keepAlive = true;
  let switches = false;
  let stop: Stop = "open";
  let fed = 0; // bytes handed to the parser
  let unfed = 0; // bytes never handed to it (reading stopped first)
  let requestStart = 0;

  const pump = (): void => {
    for (;;) {
      const event = parser.nextEvent();
      if (event === NEED_DATA) return;
      if (event === PAUSED) throw new Error("harness bug: PAUSED without a pending startNextCycle()");
      switch (event.type) {
        case "request":
          current = {
            method: event.method,
            target: event.target,
            version: event.version,
            headers: pairs(event.headers),
            body: "",
            trailers: [],
            complete: false,
          };
          requests.push(current);
          keepAlive = event.keepAlive;
          switches = event.method === "CONNECT" || event.upgrade !== "";
          break;
        case "data": {
          if (current === null) throw new Error("data event outside a request");
          const d = event.data;
          current.body += Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("latin1");
          break;
        }
        case "end":
          if (current === null) throw new Error("end event outside a request");
          current.trailers = pairs(event.trailers);
          current.complete = true;
          // A tunnel or a switched protocol takes over the connection whatever its keep-alive state.
          if (switches) {
            stop = "upgrade";
            return;
          }
          if (!keepAlive) {
            stop = "close";
            return;
          }
          current = null;
          parser.startNextCycle();
          requestStart = fed - parser.bufferedBytes;
          break;
        case "closed":
          stop = "eof";
          return;
      }
    }
  };

  try {
    let i = 0;
    for (; i < chunks.length && stop === "open"; i++) {
      parser.receiveData(chunks[i]!);
      fed += chunks[i]!.length;
      pump();
    }
    for (; i < chunks.length; i++) unfed += chunks[i]!.length;
    if (stop === "open" && eof) {
      parser.receiveEOF();
      pump();
      if (stop === "open") throw new Error("parser asked for more data after EOF");
    }
  } catch (err) {
    if (err instanceof RemoteProtocolError) {
      return { kind: "error", status: err.status, code: err.code, message: err.message, requestStart };
    }
    throw err; // anything else escaping the parser is a bug
  }
  const cur = current as ParsedRequest | null;
  let pending: "none" | "head" | "body" = "none";
  if (stop === "open") {
    if (cur !== null && !cur.complete) pending = "body";
    else if (!parser.idle) pending = "head";
  }
  return {
    kind: "ok",
    requests,
    stop,
    pending,
    leftover: stop === "open" ? 0 : parser.bufferedBytes + unfed,
  };
}

/** The same outcome with the error message left out (it may name a different check point). */
function comparable(o: Outcome): unknown {
  return o.kind === "error" ? { kind: o.kind, status: o.status, code: o.code, at: o.requestStart } : o;
}

/**
 * Both corpora leave out Host in most HTTP/1.1 requests; their parsers leave
 * that check to the application. RFC 9112 §3.2 says a server MUST answer 400,
 * and our parser does. So that the rest of such a case is still tested, the
 * harness adds this field right after the request line of each request the
 * parser refused only for lacking Host, runs the case again, and drops the
 * field from the results before comparing.
 */
const ADDED_HOST = Buffer.from("Host: corpus.tsgi.test\r\n", "latin1");

function lacksHost(o: Outcome): o is Extract<Outcome, { kind: "error" }> {
  return (
    o.kind === "error" && o.code === "TSGI_ERR_BAD_HOST" && o.message === "HTTP/1.1 request without Host"
  );
}

function addHost(input: Buffer, requestStart: number): Buffer {
  let p = requestStart;
  while (input[p] === 0x0d && input[p + 1] === 0x0a) p += 2; // empty lines skipped before a request line
  const lf = input.indexOf(0x0a, p);
  if (lf === -1) throw new Error("harness bug: no request line to add Host after");
  return Buffer.concat([input.subarray(0, lf + 1), ADDED_HOST, input.subarray(lf + 1)]);
}

/** Runs `input` whole, adding Host where the parser asks for it; returns the input finally used. */
function run(input: Buffer, eof: boolean): { input: Buffer; outcome: Outcome; hostsAdded: number } {
  let outcome = drive([input], eof);
  let hostsAdded = 0;
  while (lacksHost(outcome)) {
    if (++hostsAdded > 8) throw new Error("harness bug: Host added too often");
    input = addHost(input, outcome.requestStart);
    outcome = drive([input], eof);
  }
  return { input, outcome, hostsAdded };
}

/** `o` without the Host fields the harness added. */
function withoutAddedHost(o: Outcome): Outcome {
  if (o.kind === "error") return o;
  const requests = o.requests.map((r) => ({
    ...r,
    headers: r.headers.filter(([k, v]) => !(k === "Host" && v === "corpus.tsgi.test")),
  }));
  return { ...o, requests };
}

// ---- what the corpus expects --------------------------------------------------

interface ExpectedRequest {
  method: string;
  target: string;
  version: number;
  headers: Field[];
  body: string;
  trailers: Field[];
  complete: boolean;
}

type Expectation =
  | {
      kind: "ok";
      requests: ExpectedRequest[];
      stops: Stop[];
      pending: "none" | "head" | "body";
      leftover: "zero" | "some" | "any";
    }
  | { kind: "error" };

interface Case {
  /** `gunicorn/valid/001`, `llhttp/method.md:27 CONNECT request`. */
  name: string;
  input: Buffer;
  eof: boolean;
  expect: Expectation;
  /** Corpus detail shown when the case fails. */
  about: string;
}

const trimOws = (s: string): string => s.replace(/^[ \t]+|[ \t]+$/g, "");

function mismatches(o: Outcome, e: Expectation): string[] {
  if (e.kind === "error") {
    return o.kind === "error" ? [] : ["expected a RemoteProtocolError, the parser accepted the input"];
  }
  if (o.kind === "error") return [`expected success, got ${o.status} ${o.code}: ${o.message}`];
  const out: string[] = [];
  if (!e.stops.includes(o.stop)) out.push(`stop: expected ${e.stops.join("|")}, got ${o.stop}`);
  if (o.pending !== e.pending) out.push(`pending: expected ${e.pending}, got ${o.pending}`);
  if (e.leftover === "zero" && o.leftover !== 0) out.push(`${o.leftover} bytes left unparsed`);
  if (e.leftover === "some" && o.leftover === 0)
    out.push("expected unparsed bytes after the connection ends");
  if (o.requests.length !== e.requests.length) {
    out.push(`expected ${e.requests.length} requests, got ${o.requests.length}`);
  }
  const n = Math.min(o.requests.length, e.requests.length);
  const fields = (list: Field[]) => list.map(([k, v]) => [k.toLowerCase(), trimOws(v)]);
  for (let i = 0; i < n; i++) {
    const got = o.requests[i]!;
    const want = e.requests[i]!;
    for (const key of ["method", "target", "version", "body", "complete"] as const) {
      if (got[key] !== want[key]) {
        out.push(
          `request ${i} ${key}: expected ${JSON.stringify(want[key])}, got ${JSON.stringify(got[key])}`,
        );
      }
    }
    for (const key of ["headers", "trailers"] as const) {
      const g = JSON.stringify(fields(got[key]));
      const w = JSON.stringify(fields(want[key]));
      if (g !== w) out.push(`request ${i} ${key}: expected ${w}, got ${g}`);
    }
  }
  return out;
}

// ---- loading the corpora ------------------------------------------------------

interface GunicornCase {
  name: string;
  bin: string;
  valid: boolean;
  expected: {
    requests?: {
      method: string;
      target: string;
      version: string;
      headers: Field[];
      body_b64: string;
      trailers: Field[];
    }[];
    exception?: string;
    description?: string;
  };
  note?: string;
}

/** "HTTP/1.1" or "1.1" → 11, like `RequestHead.version`; no version at all (HTTP/0.9) → 9. */
function version(s: string): number {
  const m = /^(?:HTTP\/)?(\d)\.(\d)$/.exec(s);
  if (m === null) {
    if (s === "") return 9;
    throw new Error(`unexpected version ${s} in the corpus`);
  }
  return Number(m[1]) * 10 + Number(m[2]);
}

function gunicornCases(): Case[] {
  return readJson<GunicornCase[]>("gunicorn/cases.json").map((c) => {
    const expect: Expectation = c.valid
      ? {
          kind: "ok",
          requests: c.expected.requests!.map((r) => ({
            method: r.method,
            target: r.target,
            version: version(r.version),
            headers: r.headers,
            body: Buffer.from(r.body_b64, "base64").toString("latin1"),
            trailers: r.trailers,
            complete: true,
          })),
          // gunicorn reads until EOF, or until a request without keep-alive
          // (it ignores what follows, README: valid/019, valid/021).
          stops: ["eof", "close", "upgrade"],
          pending: "none",
          leftover: "any",
        }
      : { kind: "error" };
    return {
      name: `gunicorn/${c.name}`,
      input: readFileSync(new URL(`gunicorn/${c.bin}`, FIXTURES)),
      eof: true, // gunicorn's tests end the stream after the input
      expect,
      about: c.valid ? (c.note ?? "") : `${c.expected.exception}: ${c.expected.description}`,
    };
  });
}

interface LlhttpMessage {
  method?: string;
  url?: string | null;
  protocol?: string;
  version?: string;
  headers: Field[];
  trailers: Field[];
  body: string;
  complete: boolean;
  /** Present once llhttp reached `headers complete`. */
  flags?: string[] | null;
}

interface LlhttpCase {
  file: string;
  line: number;
  title: string;
  type: string;
  expect: "ok" | "error" | "upgrade";
  error?: { name: string; reason: string } | null;
  input_b64: string;
  messages: LlhttpMessage[];
}

/** llhttp test strings are the UTF-8 decoding of the input bytes; ours are latin-1. */
const latin1 = (s: string): string => Buffer.from(s, "utf8").toString("latin1");
const latin1Fields = (list: Field[]): Field[] => list.map(([k, v]) => [latin1(k), latin1(v)]);

function llhttpCases(): Case[] {
  return readJson<LlhttpCase[]>("llhttp/requests.json").map((c) => {
    const eof = c.type === "request-finish";
    let expect: Expectation;
    if (c.expect === "error" && c.error?.name !== "HPE_CLOSED_CONNECTION") {
      expect = { kind: "error" };
    } else {
      const messages = [...c.messages];
      let pending: "none" | "head" | "body" = "none";
      const last = messages[messages.length - 1];
      if (last !== undefined && !last.complete) {
        // Without `flags` llhttp never finished the head; we report nothing for a partial head.
        if (last.flags == null) {
          messages.pop();
          pending = "head";
        } else {
          pending = "body";
        }
      }
      const requests = messages.map((m) => ({
        method: latin1(m.method ?? ""),
        target: latin1(m.url ?? ""),
        version: version(m.version ?? ""),
        headers: latin1Fields(m.headers),
        body: latin1(m.body),
        trailers: latin1Fields(m.trailers),
        complete: m.complete,
      }));
      if (c.expect === "upgrade") {
        // llhttp pauses after the message that switches protocols; the rest is the new protocol's.
        expect = { kind: "ok", requests, stops: ["upgrade"], pending: "none", leftover: "any" };
      } else if (c.expect === "error") {
        // HPE_CLOSED_CONNECTION: bytes after a message that ended the connection. A server closes
        // the connection after answering and never parses them.
        expect = { kind: "ok", requests, stops: ["close"], pending: "none", leftover: "some" };
      } else {
        expect = {
          kind: "ok",
          requests,
          stops: eof ? ["eof", "close"] : ["open", "close"],
          pending,
          leftover: "zero",
        };
      }
    }
    return {
      name: `llhttp/${c.file}:${c.line} ${c.title}`,
      input: Buffer.from(c.input_b64, "base64"),
      eof,
      expect,
      about: `${c.type} expect=${c.expect}${c.error ? ` ${c.error.name} (${c.error.reason})` : ""}`,
    };
  });
}

// ---- the allowlist --------------------------------------------------------------

interface AllowedRequest {
  method?: string;
  target?: string;
  targetLength?: number;
  /** Number of header fields. */
  headers?: number;
  bodyLength?: number;
  complete?: boolean;
}

interface AllowEntry {
  category: string;
  reason: string;
  /** What we do: refuse with a RemoteProtocolError, or accept. */
  outcome: "error" | "ok";
  status?: number;
  code?: string;
  requests?: AllowedRequest[];
  stop?: Stop;
  pending?: "none" | "head" | "body";
  /**
   * For inputs that end before the point where we check them: with these
   * bytes appended (JSON escapes: "\r\n") the parser must refuse the request.
   */
  completed?: { append: string; status: number; code: string };
}

function allowMismatches(o: Outcome, a: AllowEntry): string[] {
  if (a.outcome === "error") {
    if (o.kind !== "error") return ["allowlist says error, the parser accepted the input"];
    const out: string[] = [];
    if (a.status !== undefined && o.status !== a.status)
      out.push(`status ${o.status}, allowlist ${a.status}`);
    if (a.code !== undefined && o.code !== a.code) out.push(`code ${o.code}, allowlist ${a.code}`);
    return out;
  }
  if (o.kind === "error") return [`allowlist says ok, got ${o.status} ${o.code}: ${o.message}`];
  const out: string[] = [];
  if (a.stop !== undefined && o.stop !== a.stop) out.push(`stop ${o.stop}, allowlist ${a.stop}`);
  if (a.pending !== undefined && o.pending !== a.pending)
    out.push(`pending ${o.pending}, allowlist ${a.pending}`);
  if (a.requests !== undefined) {
    if (o.requests.length !== a.requests.length) {
      out.push(`${o.requests.length} requests, allowlist ${a.requests.length}`);
    }
    a.requests.forEach((want, i) => {
      const got = o.requests[i];
      if (got === undefined) return;
      const actual: Required<AllowedRequest> = {
        method: got.method,
        target: got.target,
        targetLength: got.target.length,
        headers: got.headers.length,
        bodyLength: got.body.length,
        complete: got.complete,
      };
      for (const [key, value] of Object.entries(want)) {
        const g = actual[key as keyof AllowedRequest];
        if (g !== value)
          out.push(`request ${i} ${key}: ${JSON.stringify(g)}, allowlist ${JSON.stringify(value)}`);
      }
    });
  }
  return out;
}

// ---- the tests ------------------------------------------------------------------

/** Every split in two, then one byte at a time. */
function* splits(input: Buffer): Generator<[string, Uint8Array[]]> {
  for (let k = 1; k < input.length; k++) {
    yield [`split at ${k}`, [input.subarray(0, k), input.subarray(k)]];
  }
  const bytes: Uint8Array[] = [];
  for (let k = 0; k < input.length; k++) bytes.push(input.subarray(k, k + 1));
  yield ["one byte at a time", bytes];
}

function describeOutcome(o: Outcome): string {
  if (o.kind === "error") return `error ${o.status} ${o.code}: ${o.message}`;
  const reqs = o.requests.map((r) => `${r.method} ${r.target.slice(0, 60)} (${r.body.length} body bytes)`);
  return `ok [${reqs.join(", ")}] stop=${o.stop} pending=${o.pending} leftover=${o.leftover}`;
}

const cases = [...gunicornCases(), ...llhttpCases()];
const allowlist = readJson<Record<string, AllowEntry>>("allowlist.json");
/** Counts per corpus for docs/http-conformance.md, printed by the last test. */
const summary: Record<
  string,
  { cases: number; passed: number; hostAdded: number; allowlisted: Record<string, number> }
> = {};

describe("request corpora", () => {
  test("cases load and names are unique", () => {
    assert.equal(cases.length, 137 + 166);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length);
  });

  test("every allowlist entry names a case and gives a reason", () => {
    const names = new Set(cases.map((c) => c.name));
    for (const [name, entry] of Object.entries(allowlist)) {
      assert.ok(names.has(name), `allowlist entry for unknown case ${name}`);
      assert.ok(entry.reason.length > 0 && entry.category.length > 0, `${name}: reason and category needed`);
    }
  });

  for (const c of cases) {
    test(c.name, () => {
      const { input, outcome, hostsAdded } = run(c.input, c.eof);
      const result = withoutAddedHost(outcome);
      const allowed = allowlist[c.name];
      const problems = mismatches(result, c.expect);
      const context = `\n  corpus: ${c.about}\n  we: ${describeOutcome(result)}${hostsAdded ? " (Host added)" : ""}`;
      if (allowed === undefined) {
        assert.deepEqual(problems, [], `${c.name} differs from the corpus${context}`);
      } else {
        assert.notDeepEqual(problems, [], `${c.name} now meets the corpus: remove it from allowlist.json`);
        assert.deepEqual(
          allowMismatches(result, allowed),
          [],
          `${c.name} differs from allowlist.json${context}`,
        );
        if (allowed.completed !== undefined) {
          const { append, status, code } = allowed.completed;
          const more = run(Buffer.concat([input, Buffer.from(append, "latin1")]), c.eof).outcome;
          assert.deepEqual(
            more.kind === "error" ? [more.status, more.code] : describeOutcome(more),
            [status, code],
            `${c.name}: completed input`,
          );
        }
      }
      // Split anywhere, the input must give exactly the same result.
      const reference = comparable(outcome);
      for (const [label, chunks] of splits(input)) {
        assert.deepEqual(comparable(drive(chunks, c.eof)), reference, `${c.name}: ${label} differs`);
      }
      const corpus = c.name.slice(0, c.name.indexOf("/"));
      summary[corpus] ??= { cases: 0, passed: 0, hostAdded: 0, allowlisted: {} };
      const counts = summary[corpus];
      counts.cases++;
      if (hostsAdded > 0) counts.hostAdded++;
      if (allowed === undefined) counts.passed++;
      else counts.allowlisted[allowed.category] = (counts.allowlisted[allowed.category] ?? 0) + 1;
    });
  }

  test("summary", (t) => {
    t.diagnostic(JSON.stringify(summary));
  });
});
