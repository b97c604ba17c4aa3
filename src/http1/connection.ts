/**
 * One HTTP/1.1 connection seen from the server, sans-IO: the request parser
 * (parser.ts) and the response serialization (here), joined by the rules
 * that need both sides (keep-alive, 100-continue, HEAD, framing of the
 * response). Every state it keeps moves along a table of states.ts.
 *
 * The I/O layer feeds it bytes and writes the bytes it returns; it never
 * touches a socket, a timer or a clock (the Date header comes from an
 * injected function).
 */

import { Buffer } from "node:buffer";
import { LocalProtocolError, type ProtocolError, RemoteProtocolError } from "./errors.ts";
import { NEED_DATA, PAUSED, type RequestHead, type ResponseHead, type ServerEvent } from "./events.ts";
import type { ParserLimits } from "./limits.ts";
import { RequestParser } from "./parser.ts";
import {
  checkField,
  FinalFields,
  interimFields,
  isFieldText,
  NOT_PLAIN_TEXT,
  RepeatedHead,
} from "./response-fields.ts";
import {
  CHUNKED,
  CLIENT_TABLE,
  CONTINUE_TABLE,
  type ContinueState,
  type ContinueTransition,
  type Edges,
  edgesByEvent,
  follow,
  KEEP_ALIVE_TABLE,
  type KeepAliveState,
  type KeepAliveTransition,
  LENGTH,
  NO_BODY,
  type ResponseFraming,
  SERVER_TABLE,
  type State,
  type Transition,
  UNTIL_CLOSE,
} from "./states.ts";
import { STATUS_REASONS, statusLine } from "./status.ts";
import { InternalError } from "./tsgi-error.ts";

/** Settings of a {@link ServerConnection}. */
export interface ServerConnectionOptions {
  /** Parser limits; unset ones take the defaults from `DEFAULT_LIMITS`. */
  limits?: Partial<ParserLimits>;
  /** Value of the `Server` header added to responses that have none; null leaves it out. Default "tsgi". */
  serverHeader?: string | null;
  /** Returns the current IMF-fixdate for the `Date` header; null leaves it out. */
  date?: (() => string) | null;
  /**
   * Hand CONNECT requests on as request events: true, or a function asked
   * for each well-formed CONNECT head (so a gateway can decide per request,
   * e.g. whether a `'connect'` listener exists right now). Default false: a
   * well-formed CONNECT is refused with 501 `TSGI_ERR_CONNECT_NOT_IMPLEMENTED`
   * (see {@link ServerConnection.nextEvent}), because only a gateway that
   * takes the socket over can open the tunnel a 2xx announces (RFC 9110
   * §9.3.6): the node:http-style gateway with a `'connect'` listener.
   */
  acceptConnect?: boolean | ((request: RequestHead) => boolean);
}

const CRLF = Buffer.from("\r\n", "latin1");
const LAST_CHUNK = Buffer.from("0\r\n\r\n", "latin1");
const CONTINUE_BYTES = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n", "latin1");
const NOTHING: Uint8Array[] = [];

// The tables of states.ts read by event, once: each move below names its
// event, so following an edge is a comparison or two (see `Edges`).
const CLIENT = edgesByEvent(CLIENT_TABLE);
const SERVER = edgesByEvent(SERVER_TABLE);
const CONTINUE = edgesByEvent(CONTINUE_TABLE);
const KEEP_ALIVE = edgesByEvent(KEEP_ALIVE_TABLE);

/**
 * Fields a sender must not put in a trailer section (RFC 9110 §6.5.1): those
 * that frame the message, route it, or control the connection.
 */
const NOT_IN_TRAILERS = new Set([
  "content-length",
  "transfer-encoding",
  "trailer",
  "te",
  "host",
  "connection",
  "keep-alive",
  "upgrade",
  "content-type",
  "content-encoding",
  "content-range",
]);

/** The last chunk with `trailers` in its trailer section (RFC 9112 §7.1.2). */
function trailerSection(trailers: readonly string[]): Buffer {
  let out = "0\r\n";
  for (let i = 0; i < trailers.length; i += 2) {
    const name = trailers[i]!;
    const value = trailers[i + 1]!;
    checkField(name, value);
    if (NOT_IN_TRAILERS.has(name.toLowerCase())) {
      throw new LocalProtocolError(
        `${name} is not allowed in a trailer section`,
        "TSGI_ERR_BAD_RESPONSE_HEADER",
      );
    }
    out += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${out}\r\n`, "latin1");
}

/**
 * The server side of one HTTP/1.1 connection.
 *
 * @example
 * const conn = new ServerConnection({ date: () => new Date().toUTCString() });
 * conn.receiveData(bytesFromSocket);
 * const ev = conn.nextEvent();              // RequestHead
 * socket.write(conn.sendResponse({ status: 200, headers: ["content-type", "text/plain"] }, body));
 * if (conn.reusable) conn.startNextCycle(); else socket.end();
 */
export class ServerConnection {
  /** State of the client's side (see states.ts). */
  theirState: State = "IDLE";
  /** State of our side (see states.ts). */
  ourState: State = "IDLE";
  /** The request being answered, from its head until `startNextCycle()`. */
  request: RequestHead | null = null;

  private readonly parser: RequestParser;
  private readonly serverHeader: string | null;
  /** `Server: …\r\n` ("" for none), and whether it is plain ASCII. */
  private readonly serverLine: string;
  private readonly serverAscii: boolean;
  private readonly date: (() => string) | null;
  /** The last `Date` value and its field line: the value changes once a second. */
  private lastDate = "";
  private lastDateLine = "";
  /** The previous final response's fields, for the next one that repeats them. */
  private lastFields: FinalFields | null = null;
  /** The last final head written, for the next response that repeats it. */
  private readonly lastHead = new RepeatedHead();
  /** Expect: 100-continue (CONTINUE_TABLE in states.ts). */
  private continueState: ContinueState = "NOT_EXPECTED";
  /** Keep-alive (KEEP_ALIVE_TABLE in states.ts). */
  private keepAlive: KeepAliveState = "CLOSE";
  /** Framing of our response body (states.ts): chosen with the response head. */
  private framing: ResponseFraming = NO_BODY;
  private remaining = 0;
  private closeRequested = false;
  /** See {@link lastTextAscii}. */
  private textAscii = false;
  private readonly acceptConnect: boolean | ((request: RequestHead) => boolean);

  constructor(options: ServerConnectionOptions = {}) {
    this.parser = new RequestParser(options.limits);
    this.serverHeader = options.serverHeader === undefined ? "tsgi" : options.serverHeader;
    this.serverLine = this.serverHeader === null ? "" : `Server: ${this.serverHeader}\r\n`;
    this.serverAscii = this.serverHeader === null || !NOT_PLAIN_TEXT.test(this.serverHeader);
    this.date = options.date ?? null;
    this.acceptConnect = options.acceptConnect ?? false;
  }

  /**
   * Whether the last string `sendResponse()` returned (head and string body)
   * is all ASCII. Its UTF-8 and Latin-1 bytes are then the same, so the I/O
   * layer may write it as Latin-1, which copies the string's bytes instead of
   * encoding them. Known at no cost: a string is ASCII exactly when its UTF-8
   * length equals its length (every other code point takes more bytes than
   * UTF-16 units), and the body's UTF-8 length is measured for framing anyway.
   */
  get lastTextAscii(): boolean {
    return this.textAscii;
  }

  /** The `Date` field line, built again only when the injected clock's value changes. */
  private dateLine(): string {
    const date = this.date!();
    if (date !== this.lastDate) {
      this.lastDate = date;
      this.lastDateLine = `Date: ${date}\r\n`;
    }
    return this.lastDateLine;
  }

  private acceptsConnect(request: RequestHead): boolean {
    const accept = this.acceptConnect;
    return typeof accept === "function" ? accept(request) : accept;
  }

  /** The limits in force. */
  get limits(): Readonly<ParserLimits> {
    return this.parser.limits;
  }

  /** Bytes received and not yet turned into events (pipelined requests wait here). */
  get bufferedBytes(): number {
    return this.parser.bufferedBytes;
  }

  /** True when no byte of a next request has arrived (the connection is idle between requests). */
  get idle(): boolean {
    return this.theirState === "IDLE" && this.parser.idle;
  }

  /** The client is waiting for `100 Continue` before it sends the body. */
  get clientWaitingForContinue(): boolean {
    return this.continueState === "WAITING";
  }

  /** Both sides are done and the connection may carry another request. */
  get reusable(): boolean {
    return this.ourState === "DONE" && this.theirState === "DONE";
  }

  /** Whether the response being sent (or sent) keeps the connection open. */
  get willKeepAlive(): boolean {
    return this.keepAlive === "KEEP_ALIVE";
  }

  /** Feeds bytes received from the client. */
  receiveData(data: Uint8Array): void {
    this.parser.receiveData(data);
  }

  /** The client closed its sending side. */
  receiveEOF(): void {
    this.parser.receiveEOF();
  }

  /**
   * Answers every later response with `Connection: close` (used while the
   * server shuts down gracefully). Affects the response being sent only if
   * its head has not gone out yet.
   */
  closeAfterResponse(): void {
    this.closeRequested = true;
  }

  /**
   * Next event from the client, `NEED_DATA`, or `PAUSED` once the request is
   * complete and `startNextCycle()` has not been called yet.
   *
   * A CONNECT request is refused here, unless `acceptConnect` is set: the one
   * place that decides it. The parser has checked the whole head first, so a
   * malformed CONNECT (target not authority-form, no Host, bad framing) gets
   * its 400, and only a well-formed one gets 501 (RFC 9110 §9.3.6, §15.6.2:
   * the method is not supported for any resource).
   * @throws RemoteProtocolError on invalid input; the connection is then in ERROR.
   */
  nextEvent(): ServerEvent | typeof NEED_DATA | typeof PAUSED {
    let event: ReturnType<RequestParser["nextEvent"]>;
    try {
      event = this.parser.nextEvent();
    } catch (err) {
      this.theirState = this.move(CLIENT.error, this.theirState);
      throw err;
    }
    if (event === NEED_DATA || event === PAUSED) return event;
    switch (event.type) {
      case "request":
        if (event.method === "CONNECT" && !this.acceptsConnect(event)) {
          this.theirState = this.move(CLIENT.error, this.theirState);
          throw new RemoteProtocolError(
            "CONNECT is not implemented: this server opens no tunnels",
            "TSGI_ERR_CONNECT_NOT_IMPLEMENTED",
            501,
          );
        }
        this.theirState = this.move(CLIENT.request, this.theirState);
        this.ourState = this.move(SERVER.request, this.ourState);
        this.request = event;
        this.keepAlive = this.step(
          event.keepAlive ? KEEP_ALIVE.request_keep_alive : KEEP_ALIVE.request_close,
          this.keepAlive,
        );
        this.continueState = this.step(
          event.expectContinue ? CONTINUE.expect : CONTINUE.request,
          this.continueState,
        );
        break;
      case "data":
        this.theirState = this.move(CLIENT.data, this.theirState);
        break;
      case "end":
        this.theirState = this.move(CLIENT.end, this.theirState);
        if (this.keepAlive === "CLOSE") this.theirState = this.move(CLIENT.no_reuse, this.theirState);
        break;
      case "closed":
        // Asked again after the close, the answer stays "closed" (CLOSED → CLOSED, as in h11).
        this.theirState = this.move(CLIENT.close, this.theirState);
        break;
    }
    return event;
  }

  /**
   * Bytes of `100 Continue` if the client waits for them, else null. Call it
   * when the app starts reading the body (RFC 9110 §10.1.1).
   */
  sendContinue(): Buffer | null {
    const nextContinue = follow(CONTINUE.informational, this.continueState);
    const nextOurState = follow(SERVER.informational, this.ourState);
    if (nextContinue === null || nextOurState === null) return null;
    this.continueState = nextContinue;
    this.ourState = nextOurState;
    return CONTINUE_BYTES;
  }

  /**
   * Serializes a final response head. With `body` (possibly empty) the
   * response is complete and one buffer holding head and body is returned;
   * without it the body follows through `sendData()` and `sendEnd()`. A
   * string body is sent as UTF-8; head and body then come back as one
   * string to write as UTF-8 (when the head is ASCII, as heads nearly always
   * are), which the socket encodes in one pass with no Buffer built.
   *
   * The server owns framing: `Transfer-Encoding`, `Connection` and
   * `Keep-Alive` from the app are dropped (an app `Connection: close` is
   * honoured), Content-Length is added when the body is known, chunked is
   * used for a streamed HTTP/1.1 body, and an HTTP/1.0 client gets a body
   * delimited by closing the connection.
   * @throws LocalProtocolError for an invalid status, reason, header name or value, or a body that contradicts Content-Length.
   */
  sendResponse(head: ResponseHead, body?: Uint8Array): Buffer;
  sendResponse(head: ResponseHead, body: Uint8Array | string): Buffer | string;
  sendResponse(head: ResponseHead, body?: Uint8Array | string): Buffer | string {
    const status = head.status;
    if (!Number.isInteger(status) || status < 200 || status > 999) {
      throw new LocalProtocolError(`invalid final status ${status}`, "TSGI_ERR_BAD_STATUS");
    }
    // Check the transition first: a refused call must leave the connection as it was.
    const nextOurState = this.move(SERVER.response, this.ourState);
    const request = this.request;
    const isHead = request !== null && request.method === "HEAD";
    // A 2xx to CONNECT turns the connection into a tunnel: no framing headers
    // (RFC 9110 §8.6, RFC 9112 §6.1). Reachable only with `acceptConnect`; the
    // node:http-style gateway writes its 2xx on the detached socket itself, so
    // this core, which relays nothing, still closes after such a head.
    const tunnel = request !== null && request.method === "CONNECT" && status < 300;
    const bodyless = status === 204 || status === 304 || tunnel;

    // The status line and the app's fields, checked and serialized, or the
    // previous response's when this one repeats them (see FinalFields).
    let fields = this.lastFields;
    if (fields === null || tunnel || !fields.repeats(status, head.reason, head.headers)) {
      fields = new FinalFields(status, head.reason, head.headers, tunnel);
      this.lastFields = tunnel ? null : fields;
    }
    const appLength = fields.appLength;
    let appClose = fields.appClose;

    const bodyLength = typeof body === "string" ? Buffer.byteLength(body, "utf8") : (body?.length ?? 0);
    // The framing line the server adds: Content-Length: n (n >= 0), none (-1), or chunked (-2).
    let framingLine = -1;
    let framing: ResponseFraming = NO_BODY;
    if (bodyless) {
      framing = NO_BODY;
    } else if (body !== undefined) {
      if (appLength >= 0 && appLength !== bodyLength && !isHead) {
        throw new LocalProtocolError(
          `Content-Length ${appLength} but body has ${bodyLength} bytes`,
          "TSGI_ERR_BODY_LENGTH_MISMATCH",
        );
      }
      // A HEAD answer with an empty body does not know the GET's length: say nothing.
      if (appLength < 0 && !(isHead && bodyLength === 0)) framingLine = bodyLength;
      framing = isHead ? NO_BODY : LENGTH;
      this.remaining = 0;
    } else if (appLength >= 0) {
      framing = isHead ? NO_BODY : LENGTH;
      this.remaining = appLength;
    } else if (request !== null && request.version === 11) {
      // HEAD gets the header the GET would have (RFC 9110 §9.3.2) but no body.
      framingLine = -2;
      framing = isHead ? NO_BODY : CHUNKED;
    } else {
      framing = isHead ? NO_BODY : UNTIL_CLOSE;
      if (!isHead) appClose = true;
    }
    this.framing = framing;

    // A client still waiting for 100 may or may not send its body now; the
    // only safe way on is to close after this response (RFC 9110 §10.1.1).
    const ambiguousBody = this.continueState === "WAITING";
    this.continueState = this.step(CONTINUE.response, this.continueState);
    if (request === null || appClose || this.closeRequested || ambiguousBody || tunnel) {
      this.keepAlive = this.step(KEEP_ALIVE.no_reuse, this.keepAlive);
    }
    let connectionLine = "";
    if (this.keepAlive === "CLOSE") {
      connectionLine = "Connection: close\r\n";
      if (this.theirState === "DONE") this.theirState = this.move(CLIENT.no_reuse, this.theirState);
    } else if (request !== null && request.version === 10) {
      connectionLine = "Connection: keep-alive\r\n";
    }
    const dateLine = !fields.hasDate && this.date !== null ? this.dateLine() : "";
    const serverLine = fields.hasServer ? "" : this.serverLine;
    const ascii = fields.ascii && (serverLine === "" || this.serverAscii);
    const out = this.lastHead.text(fields, framingLine, connectionLine, dateLine, serverLine);

    this.ourState = nextOurState;
    if (body === undefined) return Buffer.from(out, "latin1");

    this.finish();
    const headLength = out.length;
    if (framing === NO_BODY || bodyLength === 0) return Buffer.from(out, "latin1");
    if (typeof body === "string" && ascii) {
      this.textAscii = bodyLength === body.length;
      return out + body;
    }
    const bytes = Buffer.allocUnsafe(headLength + bodyLength);
    bytes.write(out, 0, headLength, "latin1");
    if (typeof body === "string") bytes.write(body, headLength, bodyLength, "utf8");
    else bytes.set(body, headLength);
    return bytes;
  }

  /**
   * Serializes a `101 Switching Protocols` answer to an upgrade request (a
   * WebSocket handshake). Both sides move to SWITCHED_PROTOCOL: HTTP is over
   * on this connection, and the bytes that follow belong to the new protocol
   * (see {@link takeTrailingData} for those already received).
   * @throws LocalProtocolError when the request did not ask for an upgrade, had a body, or a header is invalid.
   */
  sendSwitchingProtocols(head: ResponseHead): Buffer {
    const request = this.request;
    if (head.status !== 101) {
      throw new LocalProtocolError(
        `a protocol switch needs status 101, not ${head.status}`,
        "TSGI_ERR_BAD_STATUS",
      );
    }
    // The client's request must be complete (an upgrade request has no body,
    // RFC 9110 §7.8 does not forbid one, but then its end would be ambiguous).
    if (request === null || request.upgrade === "" || this.theirState !== "DONE") {
      throw new LocalProtocolError(
        "101 Switching Protocols is only for a complete upgrade request",
        "TSGI_ERR_INVALID_STATE",
      );
    }
    if (head.reason !== undefined && !isFieldText(head.reason)) {
      throw new LocalProtocolError("invalid reason phrase", "TSGI_ERR_BAD_STATUS");
    }
    const nextOurState = this.move(SERVER.switch, this.ourState);
    const fields = interimFields(head.headers);
    let out = statusLine(101, head.reason) + fields.lines;
    if (!fields.hasDate && this.date !== null) out += this.dateLine();
    if (!fields.hasServer) out += this.serverLine;
    out += "\r\n";
    this.ourState = nextOurState;
    this.theirState = this.move(CLIENT.switch, this.theirState);
    this.continueState = this.step(CONTINUE.switch, this.continueState);
    this.keepAlive = this.step(KEEP_ALIVE.no_reuse, this.keepAlive);
    return Buffer.from(out, "latin1");
  }

  /**
   * The bytes received after a complete request, handed over once, when the
   * socket leaves HTTP without our 101 (a node:http-style `'upgrade'`
   * listener answers on the raw socket itself).
   */
  takeUnparsedData(): Uint8Array {
    return this.parser.takeTrailingData();
  }

  /**
   * After {@link sendSwitchingProtocols}: the bytes the client sent after its
   * request (already the new protocol's), handed over once.
   */
  takeTrailingData(): Uint8Array {
    if (this.ourState !== "SWITCHED_PROTOCOL") {
      throw new LocalProtocolError("no protocol switch happened", "TSGI_ERR_INVALID_STATE");
    }
    return this.parser.takeTrailingData();
  }

  /**
   * Frames a piece of a streamed response body. Returns the buffers to write
   * in order (none for HEAD, 204 and 304 responses, or an empty piece).
   * @throws LocalProtocolError when the app writes more than its Content-Length.
   */
  sendData(data: Uint8Array): Uint8Array[] {
    const nextOurState = follow(SERVER.data, this.ourState);
    if (nextOurState === null) {
      throw new LocalProtocolError(
        `cannot send body data in state ${this.ourState}`,
        "TSGI_ERR_INVALID_STATE",
      );
    }
    this.ourState = nextOurState;
    const n = data.length;
    switch (this.framing) {
      case LENGTH:
        if (n > this.remaining) {
          throw new LocalProtocolError(
            "response body longer than its Content-Length",
            "TSGI_ERR_BODY_LENGTH_MISMATCH",
          );
        }
        this.remaining -= n;
        return n === 0 ? NOTHING : [data];
      case CHUNKED:
        // An empty chunk would end the body, so empty pieces are dropped.
        return n === 0 ? NOTHING : [Buffer.from(`${n.toString(16)}\r\n`, "latin1"), data, CRLF];
      case UNTIL_CLOSE:
        return n === 0 ? NOTHING : [data];
      default:
        return NOTHING;
    }
  }

  /**
   * Ends a streamed response body. Returns the bytes that end it (the last
   * chunk), or null when none are needed. `trailers` (a flat name/value
   * list) go in the trailer section of a chunked body (RFC 9112 §7.1.2);
   * with any other framing there is nowhere to put them and they are
   * dropped, as node:http does.
   * @throws LocalProtocolError when fewer bytes than the Content-Length were sent (close the connection), or for a trailer that is invalid or not allowed in a trailer section (nothing changed then).
   */
  sendEnd(trailers?: readonly string[]): Buffer | null {
    if (follow(SERVER.end, this.ourState) === null) {
      throw new LocalProtocolError(
        `cannot end the response in state ${this.ourState}`,
        "TSGI_ERR_INVALID_STATE",
      );
    }
    let lastChunk: Buffer = LAST_CHUNK;
    if (trailers !== undefined && trailers.length > 0 && this.framing === CHUNKED) {
      lastChunk = trailerSection(trailers);
    }
    if (this.framing === LENGTH && this.remaining > 0) {
      this.ourState = this.move(SERVER.error, this.ourState);
      throw new LocalProtocolError(
        `response ended ${this.remaining} bytes short of its Content-Length`,
        "TSGI_ERR_BODY_LENGTH_MISMATCH",
      );
    }
    const last = this.framing === CHUNKED ? lastChunk : null;
    this.finish();
    return last;
  }

  /**
   * Serializes an interim response other than 100 and 101 (102 Processing,
   * 103 Early Hints of RFC 8297, ...) before the final one. Returns null,
   * sending nothing, to an HTTP/1.0 client, which must not get a 1xx
   * (RFC 9110 §15.2). 100 goes through {@link sendContinue}, 101 through
   * {@link sendSwitchingProtocols}.
   * @throws LocalProtocolError for another status, an invalid header, or once the final head was sent.
   */
  sendInformational(head: ResponseHead): Buffer | null {
    const status = head.status;
    if (!Number.isInteger(status) || status < 102 || status > 199) {
      throw new LocalProtocolError(`invalid interim status ${status}`, "TSGI_ERR_BAD_STATUS");
    }
    if (head.reason !== undefined && !isFieldText(head.reason)) {
      throw new LocalProtocolError("invalid reason phrase", "TSGI_ERR_BAD_STATUS");
    }
    if (this.ourState !== "SEND_RESPONSE" || follow(SERVER.informational, this.ourState) === null) {
      throw new LocalProtocolError(
        `cannot send an interim response in state ${this.ourState}`,
        "TSGI_ERR_INVALID_STATE",
      );
    }
    const out = statusLine(status, head.reason) + interimFields(head.headers).lines;
    if (this.request === null || this.request.version !== 11) return null;
    return Buffer.from(`${out}\r\n`, "latin1");
  }

  /**
   * A complete error response for `error` (status line, short text body,
   * `Connection: close`), or null when a response is already under way and
   * the connection can only be closed.
   */
  sendError(error: ProtocolError | { status: number; message: string }): Buffer | null {
    // A response can start only from IDLE or SEND_RESPONSE.
    if (follow(SERVER.response, this.ourState) === null) return null;
    this.closeRequested = true;
    this.keepAlive = this.step(KEEP_ALIVE.no_reuse, this.keepAlive);
    // Messages never contain request bytes, so echoing them in text/plain reflects nothing.
    const reason = STATUS_REASONS[error.status] ?? "Error";
    const body = Buffer.from(`${error.status} ${reason}: ${error.message}\n`, "utf8");
    return this.sendResponse(
      {
        status: error.status,
        headers: ["Content-Type", "text/plain; charset=utf-8", "X-Content-Type-Options", "nosniff"],
      },
      body,
    );
  }

  /**
   * Starts the next request/response cycle once both sides are DONE.
   * Pipelined bytes already received are parsed from here on.
   */
  startNextCycle(): void {
    if (!this.reusable) {
      throw new LocalProtocolError(
        `cannot start a new cycle in states ${this.theirState}/${this.ourState}`,
        "TSGI_ERR_INVALID_STATE",
      );
    }
    this.parser.startNextCycle();
    this.theirState = this.move(CLIENT.next_cycle, this.theirState);
    this.ourState = this.move(SERVER.next_cycle, this.ourState);
    this.keepAlive = this.step(KEEP_ALIVE.next_cycle, this.keepAlive);
    this.continueState = this.step(CONTINUE.next_cycle, this.continueState);
    this.request = null;
    this.framing = NO_BODY;
  }

  private finish(): void {
    this.ourState = this.move(SERVER.end, this.ourState);
    if (this.keepAlive === "CLOSE") this.ourState = this.move(SERVER.no_reuse, this.ourState);
  }

  /** A move of one side (CLIENT_TABLE or SERVER_TABLE); refused → the side's protocol error. */
  private move(edges: Edges<State, Transition>, state: State): State {
    const next = follow(edges, state);
    if (next !== null) return next;
    if (edges.table === CLIENT_TABLE) {
      throw new RemoteProtocolError(
        `client sent "${edges.event}" in state ${state}`,
        "TSGI_ERR_INVALID_STATE",
        400,
      );
    }
    throw new LocalProtocolError(`cannot "${edges.event}" in state ${state}`, "TSGI_ERR_INVALID_STATE");
  }

  /**
   * A move of the 100-continue or keep-alive machine. These follow moves of
   * the two sides, so a refused one is a bug in this file, not a peer's or
   * an app's mistake.
   */
  private step<S extends ContinueState | KeepAliveState, T extends ContinueTransition | KeepAliveTransition>(
    edges: Edges<S, T>,
    state: S,
  ): S {
    const next = follow(edges, state);
    if (next === null) throw new InternalError(`bug: "${edges.event}" in state ${state}`);
    return next;
  }
}
