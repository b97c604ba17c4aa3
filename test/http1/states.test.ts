/**
 * The tables in src/http1/states.ts are the only way the core changes state:
 * every assignment of a state field, watched while requests of every shape go
 * through, must be an edge of its table, and (for the machines whose edges
 * are all reachable) every edge must be taken by one of them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NEED_DATA, PAUSED, RequestParser, ServerConnection } from "../../src/http1/index.ts";
import {
  CLIENT_TABLE,
  CONTINUE_TABLE,
  KEEP_ALIVE_TABLE,
  PARSER_STATES,
  PARSER_TABLE,
  SERVER_TABLE,
  type Table,
} from "../../src/http1/states.ts";

type Moves = Set<string>;

/** Replaces the data property `field` of `target` by an accessor that records every assignment as "from>to". */
function watch(target: object, field: string, moves: Moves, name: (v: unknown) => string = String): void {
  let value = (target as Record<string, unknown>)[field];
  Object.defineProperty(target, field, {
    get: () => value,
    set: (next: unknown) => {
      moves.add(`${name(value)}>${name(next)}`);
      value = next;
    },
  });
}

function edges(table: Table<string, string>): Moves {
  const out: Moves = new Set();
  for (const [from, moves] of Object.entries(table))
    for (const to of Object.values(moves)) out.add(`${from}>${to}`);
  return out;
}

function assertSubset(observed: Moves, table: Table<string, string>, what: string): void {
  const allowed = edges(table);
  for (const move of observed) assert.ok(allowed.has(move), `${what}: ${move} is not in the table`);
}

function assertCovered(observed: Moves, table: Table<string, string>, what: string): void {
  for (const edge of edges(table)) assert.ok(observed.has(edge), `${what}: edge ${edge} never taken`);
}

const bytes = (s: string): Buffer => Buffer.from(s, "latin1");

/** Drains the parser, byte by byte when `split`; returns the event types. */
function drain(parser: RequestParser, input: string, split: boolean): string[] {
  const out: string[] = [];
  const chunks = split ? [...input].map((c) => bytes(c)) : [bytes(input)];
  for (const chunk of chunks) {
    parser.receiveData(chunk);
    for (;;) {
      const ev = parser.nextEvent();
      if (ev === NEED_DATA) break;
      if (ev === PAUSED) {
        out.push("paused");
        parser.startNextCycle();
        continue;
      }
      out.push(ev.type);
    }
  }
  return out;
}

describe("states.ts is the parser's only map", () => {
  test("every parser move is a PARSER_TABLE edge, and every edge is taken", () => {
    const moves: Moves = new Set();
    const input =
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n" +
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for (const split of [false, true]) {
      const parser = new RequestParser();
      watch(parser, "state", moves, (v) => PARSER_STATES[v as number]!);
      // Byte by byte, each body byte is its own data event.
      const types = drain(parser, input, split).filter((t, i, all) => t !== "data" || all[i - 1] !== "data");
      assert.deepEqual(types, [
        "request",
        "end",
        "paused",
        "request",
        "data",
        "end",
        "paused",
        "request",
        "data",
        "end",
        "paused",
        "request",
        "end",
        "paused",
      ]);
    }
    assertSubset(moves, PARSER_TABLE, "parser");
    assertCovered(moves, PARSER_TABLE, "parser");
  });
});

describe("states.ts is the connection's only map", () => {
  const client: Moves = new Set();
  const server: Moves = new Set();
  const cont: Moves = new Set();
  const keepAlive: Moves = new Set();

  function conn(): ServerConnection {
    const c = new ServerConnection({ date: null, serverHeader: null });
    watch(c, "theirState", client);
    watch(c, "ourState", server);
    watch(c, "continueState", cont);
    watch(c, "keepAlive", keepAlive);
    return c;
  }
  function events(c: ServerConnection): string[] {
    const out: string[] = [];
    for (;;) {
      const ev = c.nextEvent();
      if (ev === NEED_DATA || ev === PAUSED) return out;
      out.push(ev.type);
    }
  }
  const GET = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const BODY = "Content-Length: 3\r\n";

  test("keep-alive cycles, Connection: close, shutdown, EOF", () => {
    const c = conn();
    c.receiveData(bytes(`${GET}${GET}GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`));
    events(c);
    c.sendResponse({ status: 200, headers: [] }, bytes("x"));
    c.startNextCycle();
    events(c);
    c.sendResponse({ status: 200, headers: [] });
    c.sendData(bytes("x"));
    c.sendEnd();
    c.startNextCycle();
    assert.deepEqual(events(c), ["request", "end"]);
    c.sendResponse({ status: 200, headers: [] }, bytes(""));
    assert.equal(c.ourState, "MUST_CLOSE");

    const d = conn();
    d.receiveData(bytes(GET + GET));
    events(d);
    d.sendResponse({ status: 200, headers: [] }, bytes(""));
    d.startNextCycle();
    events(d);
    d.closeAfterResponse();
    d.sendResponse({ status: 200, headers: [] }, bytes(""));
    assert.equal(d.theirState, "MUST_CLOSE");

    const e = conn();
    e.receiveData(bytes("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    events(e);
    e.sendResponse({ status: 200, headers: [] }, bytes(""));

    const f = conn();
    f.receiveEOF();
    for (let i = 0; i < 2; i++) assert.deepEqual(f.nextEvent(), { type: "closed" });
  });

  test("100-continue: sent, unanswered, then a switch from each state", () => {
    const c = conn();
    c.receiveData(bytes(`POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n${BODY}\r\n`));
    events(c);
    assert.notEqual(c.sendContinue(), null);
    c.receiveData(bytes("abc"));
    events(c);
    c.sendResponse({ status: 200, headers: [] }, bytes(""));
    c.startNextCycle();

    const d = conn();
    d.receiveData(bytes(`POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n${BODY}\r\n`));
    events(d);
    d.sendResponse({ status: 417, headers: [] }, bytes(""));

    const upgrade = `GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n`;
    for (const expect of ["", "continue", "waiting"]) {
      const u = conn();
      const extra = expect === "" ? "" : `Expect: 100-continue\r\n${BODY}`;
      u.receiveData(bytes(`${upgrade}${extra}\r\n`));
      events(u);
      if (expect === "continue") u.sendContinue();
      if (expect !== "") u.receiveData(bytes("abc"));
      events(u);
      u.sendSwitchingProtocols({ status: 101, headers: [] });
      assert.equal(u.ourState, "SWITCHED_PROTOCOL");
    }
  });

  test("errors: a refused request, a short body, an error response from IDLE", () => {
    const c = conn();
    c.receiveData(bytes("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n"));
    assert.throws(() => c.nextEvent());
    assert.throws(() => c.nextEvent());
    assert.equal(c.theirState, "ERROR");
    assert.notEqual(c.sendError({ status: 400, message: "bad" }), null);

    const d = conn();
    d.receiveData(bytes(`POST / HTTP/1.1\r\nHost: a\r\n${BODY}\r\nab`));
    events(d);
    d.receiveEOF();
    assert.throws(() => d.nextEvent());

    const e = conn();
    e.receiveData(bytes(GET));
    events(e);
    e.sendResponse({ status: 200, headers: ["Content-Length", "5"] });
    assert.throws(() => e.sendEnd());
    assert.equal(e.ourState, "ERROR");
  });

  test("every move is an edge; every 100-continue and keep-alive edge is taken", () => {
    assertSubset(client, CLIENT_TABLE, "client");
    assertSubset(server, SERVER_TABLE, "server");
    assertSubset(cont, CONTINUE_TABLE, "100-continue");
    assertSubset(keepAlive, KEEP_ALIVE_TABLE, "keep-alive");
    assertCovered(cont, CONTINUE_TABLE, "100-continue");
    assertCovered(keepAlive, KEEP_ALIVE_TABLE, "keep-alive");
  });
});
