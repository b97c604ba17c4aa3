/**
 * Incremental, strict HTTP/1.1 request parser (RFC 9112), sans-IO.
 *
 * Bytes go in with `receiveData()`, events come out of `nextEvent()`. It never
 * touches a socket or a timer, so it can be driven by a test with literal
 * bytes, split anywhere: the resume points are the request head (rescanned
 * only from where the last scan stopped), the chunk-size line, chunk data and
 * the trailer section. After a complete request it pauses until
 * `startNextCycle()`, which is how pipelined requests are answered in order.
 */

import {
  COLON,
  CR,
  FIELD_VALUE_CHAR,
  HOST_CHAR,
  HTAB,
  hexValue,
  LF,
  SP,
  TARGET_CHAR,
  TCHAR,
  trimOWS,
} from "./chars.ts";
import { RemoteProtocolError } from "./errors.ts";
import {
  type BodyData,
  type BodyFraming,
  type EndOfMessage,
  NEED_DATA,
  PAUSED,
  type RequestHead,
  type ServerEvent,
} from "./events.ts";
import { DEFAULT_LIMITS, type ParserLimits } from "./limits.ts";

// Parser states. Plain numbers: this is the hottest switch in the server.
const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const END = 6; // body complete, EndOfMessage not yet returned
const DONE = 7; // message returned whole; waiting for startNextCycle()

const EMPTY = Buffer.alloc(0);
/** 16^13 > 2^53: more hex digits than this cannot be an exact chunk size. */
const MAX_CHUNK_SIZE_DIGITS = 13;
/** Content-Length digits kept exact by a double (2^53 has 16 digits). */
const MAX_CONTENT_LENGTH_DIGITS = 15;
/** Smallest buffer allocated to join partial input. */
const MIN_STORAGE = 1024;
/** Empty lines tolerated before a request line (RFC 9112 §2.2 says ignore "at least one"). */
const MAX_LEADING_EMPTY_LINES = 4;

/**
 * Fields that must not appear in a trailer section (RFC 9110 §6.5.1:
 * framing, routing, connection control); one there gets 400.
 */
export const FORBIDDEN_TRAILERS: ReadonlySet<string> = new Set([
  "content-length",
  "transfer-encoding",
  "host",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
]);

/** Any byte FIELD_VALUE_CHAR refuses (CTLs but HTAB, and DEL), as a regex over a latin-1 string. */
const INVALID_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };
/**
 * Bytes → string, one char per byte. Node's `latin1Slice` skips the argument
 * checks of `toString("latin1", ...)`, which showed up in profiles; it has
 * been on Buffer.prototype since Node 0.x, and the fallback keeps us safe.
 */
const latin1: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as Partial<Latin1Buffer>).latin1Slice === "function"
    ? (buf, start, end) => (buf as Latin1Buffer).latin1Slice(start, end)
    : (buf, start, end) => buf.toString("latin1", start, end);

function fail(
  message: string,
  code: ConstructorParameters<typeof RemoteProtocolError>[1],
  status = 400,
): never {
  throw new RemoteProtocolError(message, code, status);
}

/**
 * Parses a stream of requests from one connection.
 *
 * @example
 * const parser = new RequestParser();
 * parser.receiveData(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
 * parser.nextEvent(); // { type: "request", method: "GET", target: "/", ... }
 * parser.nextEvent(); // { type: "end", trailers: [] }
 * parser.nextEvent(); // PAUSED until parser.startNextCycle()
 */
export class RequestParser {
  readonly limits: ParserLimits;

  /** Unconsumed input is `buf[pos..]`. */
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Our own growable memory when `buf` lives in it (null when `buf` is a caller's chunk). */
  private storage: Buffer | null = null;
  private state = HEAD;
  private eof = false;

  // Request-head scan state (offsets into `buf`).
  private scan = 0;
  private lineStart = 0;
  private headSize = 0;
  private leadingEmptyLines = 0;
  private method = "";
  private target = "";
  private version: 10 | 11 = 11;
  private headers: string[] = [];

  // Body state.
  private remaining = 0;
  private bodySize = 0;
  private trailers: string[] = [];

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes received but not yet turned into events. */
  get bufferedBytes(): number {
    return this.buf.length - this.pos;
  }

  /** True between a complete request and `startNextCycle()`. */
  get paused(): boolean {
    return this.state === DONE;
  }

  /** True while nothing of the next request has been parsed (used to tell idle from mid-request). */
  get idle(): boolean {
    return this.state === HEAD && this.method === "" && this.lineStart === this.buf.length;
  }

  /** Appends bytes from the peer. */
  receiveData(data: Uint8Array): void {
    if (this.eof) throw new RemoteProtocolError("data after end of stream", "TSGI_ERR_INVALID_STATE", 400);
    if (data.length === 0) return;
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const unread = this.buf.length - this.pos;
    if (unread === 0) {
      // The common case: everything before was consumed; parse the chunk in place.
      this.rebase(this.pos);
      this.buf = chunk;
      this.storage = null;
      return;
    }
    const storage = this.storage;
    if (storage !== null && this.buf.length + chunk.length <= storage.length) {
      // Room left in our own buffer: append without moving what is there, so
      // body views already handed out stay valid.
      storage.set(chunk, this.buf.length);
      this.buf = storage.subarray(0, this.buf.length + chunk.length);
      return;
    }
    // Grow geometrically: a head trickling in byte by byte costs linear, not
    // quadratic, copying.
    const needed = unread + chunk.length;
    const grown = Buffer.allocUnsafeSlow(Math.max(needed * 2, MIN_STORAGE));
    this.buf.copy(grown, 0, this.pos);
    grown.set(chunk, unread);
    this.rebase(this.pos);
    this.storage = grown;
    this.buf = grown.subarray(0, needed);
  }

  /** The peer closed its sending side. */
  receiveEOF(): void {
    this.eof = true;
  }

  /**
   * Forgets the finished request and starts parsing the next one from the
   * bytes already buffered. Call once the response to the previous one is complete.
   */
  startNextCycle(): void {
    if (this.state !== DONE) throw new Error("startNextCycle() before the request was complete");
    this.state = HEAD;
    this.scan = this.lineStart = this.pos;
    this.headSize = 0;
    this.leadingEmptyLines = 0;
    this.method = "";
    this.headers = [];
    this.trailers = [];
    this.bodySize = 0;
  }

  /**
   * Hands over the bytes received after the complete request and forgets
   * them: after a protocol switch (101) they belong to the new protocol.
   */
  takeTrailingData(): Uint8Array {
    if (this.state !== DONE) throw new Error("takeTrailingData() before the request was complete");
    const rest = this.buf.subarray(this.pos);
    this.buf = EMPTY;
    this.storage = null;
    this.pos = this.scan = this.lineStart = 0;
    return rest;
  }

  /**
   * Returns the next event, `NEED_DATA` when more bytes are needed, or `PAUSED`
   * after a complete request. Throws {@link RemoteProtocolError} on bad input;
   * the parser is then unusable and the connection must be closed.
   */
  nextEvent(): ServerEvent | typeof NEED_DATA | typeof PAUSED {
    switch (this.state) {
      case HEAD:
        return this.readHead();
      case BODY_LENGTH:
        return this.readLengthBody();
      case CHUNK_SIZE:
      case CHUNK_DATA:
      case CHUNK_DATA_END:
      case TRAILERS:
        return this.readChunked();
      case END:
        this.state = DONE;
        return { type: "end", trailers: this.trailers } satisfies EndOfMessage;
      default:
        return PAUSED;
    }
  }

  /** Shifts head-scan offsets when the buffer is replaced so they keep pointing at the same bytes. */
  private rebase(shift: number): void {
    this.scan -= shift;
    this.lineStart -= shift;
    this.pos -= shift;
  }

  // ---- request head -------------------------------------------------------

  private readHead(): RequestHead | typeof NEED_DATA | { type: "closed" } {
    const buf = this.buf;
    const limits = this.limits;
    for (;;) {
      const lf = buf.indexOf(LF, this.scan);
      if (lf === -1) {
        this.scan = buf.length;
        const partial = buf.length - this.lineStart;
        if (this.method === "") {
          if (partial > limits.maxRequestLineSize + 1) {
            fail("request line too long", "TSGI_ERR_REQUEST_LINE_TOO_LONG", 414);
          }
        } else if (this.headSize + partial > limits.maxHeaderSize + 1) {
          // +1: a lone CR may be the start of the empty line that ends the head.
          fail("header section too large", "TSGI_ERR_HEADERS_TOO_LARGE", 431);
        }
        if (this.eof) {
          if (this.lineStart === buf.length && this.method === "") return { type: "closed" };
          fail("connection closed in the middle of a request head", "TSGI_ERR_INCOMPLETE_MESSAGE");
        }
        return NEED_DATA;
      }
      // RFC 9112 §2.2 lets a server accept a bare LF as a line terminator; we
      // do not, because a proxy in front of us may read the same bytes
      // differently (request smuggling). Every line must end in CRLF.
      const start = this.lineStart;
      // Size limits before the line ending: the checks above refuse an
      // over-long line before its LF arrives, so they must win here too, or
      // the answer (414/431 or 400) would depend on how the input was split.
      if (this.method === "") {
        if (lf - start > limits.maxRequestLineSize + 1) {
          fail("request line too long", "TSGI_ERR_REQUEST_LINE_TOO_LONG", 414);
        }
      } else if (lf - start !== 1 && this.headSize + lf + 1 - start > limits.maxHeaderSize) {
        fail("header section too large", "TSGI_ERR_HEADERS_TOO_LARGE", 431);
      }
      if (lf === start || buf[lf - 1] !== CR) {
        fail("line not terminated by CRLF", "TSGI_ERR_BAD_LINE_ENDING");
      }
      const end = lf - 1;
      this.scan = this.lineStart = lf + 1;

      if (this.method === "") {
        if (end === start) {
          if (++this.leadingEmptyLines > MAX_LEADING_EMPTY_LINES)
            fail("too many empty lines", "TSGI_ERR_BAD_REQUEST_LINE");
          this.pos = lf + 1;
          continue;
        }
        this.parseRequestLine(buf, start, end);
        continue;
      }

      if (end === start) {
        this.pos = lf + 1;
        return this.finishHead();
      }
      this.headSize += lf + 1 - start;
      if (this.headSize > limits.maxHeaderSize)
        fail("header section too large", "TSGI_ERR_HEADERS_TOO_LARGE", 431);
      if (this.headers.length >= limits.maxHeaderCount * 2) {
        fail("too many header fields", "TSGI_ERR_TOO_MANY_HEADERS", 431);
      }
      parseFieldLine(buf, start, end, this.headers);
    }
  }

  private parseRequestLine(buf: Buffer, start: number, end: number): void {
    // method SP request-target SP HTTP-version (RFC 9112 §3), single spaces only.
    let i = start;
    while (i < end && TCHAR[buf[i]!] === 1) i++;
    if (i === start || i === end || buf[i] !== SP) {
      if (i < end && buf[i] !== SP) fail("invalid character in method", "TSGI_ERR_BAD_METHOD");
      fail("malformed request line", "TSGI_ERR_BAD_REQUEST_LINE");
    }
    const method = latin1(buf, start, i);
    const targetStart = ++i;
    while (i < end && TARGET_CHAR[buf[i]!] === 1) i++;
    if (i === targetStart) fail("malformed request line", "TSGI_ERR_BAD_REQUEST_LINE");
    if (i === end || buf[i] !== SP) {
      if (i < end && buf[i] !== SP) fail("invalid character in request target", "TSGI_ERR_BAD_TARGET");
      fail("request line has no HTTP version", "TSGI_ERR_BAD_REQUEST_LINE");
    }
    const target = latin1(buf, targetStart, i);
    this.version = parseVersion(buf, i + 1, end);
    checkTargetForm(method, target);
    this.method = method;
    this.target = target;
  }

  /** Applies the framing and singleton-field rules once the whole head is in (RFC 9112 §6, RFC 9110 §7.2). */
  private finishHead(): RequestHead {
    const headers = this.headers;
    const version = this.version;
    let host = "";
    let hostCount = 0;
    let contentLength = -1;
    let contentLengthCount = 0;
    let contentTypeCount = 0;
    let transferEncoding: string | null = null;
    let close = false;
    let keepAliveToken = false;
    let upgradeToken = false;
    let upgrade = "";
    let expectContinue = false;

    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      // Dispatch on length first: most fields are none of these and cost one compare.
      switch (name.length) {
        case 4:
          if (name.toLowerCase() === "host") {
            host = headers[i + 1]!;
            hostCount++;
          }
          break;
        case 6:
          if (name.toLowerCase() === "expect") {
            // OWS is SP/HTAB only (RFC 9110 §5.6.3): "\xa0100-continue" is an unknown expectation, 417.
            for (const member of headers[i + 1]!.split(",")) {
              const m = trimOWS(member).toLowerCase();
              if (m === "100-continue") expectContinue = true;
              else if (m !== "") fail("unsupported expectation", "TSGI_ERR_EXPECTATION_FAILED", 417);
            }
          }
          break;
        case 7:
          if (name.toLowerCase() === "upgrade") upgrade = headers[i + 1]!.toLowerCase();
          break;
        case 10:
          if (name.toLowerCase() === "connection") {
            // OWS is SP/HTAB only: "\xa0close" is no token (RFC 9110 §7.6.1) and closes nothing.
            for (const token of headers[i + 1]!.split(",")) {
              const t = trimOWS(token).toLowerCase();
              if (t === "close") close = true;
              else if (t === "keep-alive") keepAliveToken = true;
              else if (t === "upgrade") upgradeToken = true;
            }
          }
          break;
        case 12:
          if (name.toLowerCase() === "content-type" && ++contentTypeCount > 1) {
            // A singleton field (RFC 9110 §8.3); two values could be read differently by a proxy and the app.
            fail("more than one Content-Type field", "TSGI_ERR_BAD_HEADER_VALUE");
          }
          break;
        case 14:
          if (name.toLowerCase() === "content-length") {
            contentLengthCount++;
            contentLength = parseContentLength(headers[i + 1]!);
          }
          break;
        case 17:
          if (name.toLowerCase() === "transfer-encoding") {
            transferEncoding =
              transferEncoding === null ? headers[i + 1]! : `${transferEncoding},${headers[i + 1]}`;
          }
          break;
      }
    }

    if (hostCount > 1) fail("more than one Host field", "TSGI_ERR_BAD_HOST");
    if (hostCount === 0 && version === 11) fail("HTTP/1.1 request without Host", "TSGI_ERR_BAD_HOST");
    for (let i = 0; i < host.length; i++) {
      if (HOST_CHAR[host.charCodeAt(i)] !== 1) fail("invalid Host value", "TSGI_ERR_BAD_HOST");
    }

    let framing: BodyFraming = "none";
    if (transferEncoding !== null) {
      // A 1.0 message with Transfer-Encoding has faulty framing (RFC 9112 §6.1), and
      // CL together with TE is the classic request-smuggling vector: refuse both.
      if (version === 10) fail("Transfer-Encoding in an HTTP/1.0 request", "TSGI_ERR_BAD_TRANSFER_ENCODING");
      if (contentLengthCount > 0) {
        fail("both Content-Length and Transfer-Encoding", "TSGI_ERR_CONFLICTING_FRAMING");
      }
      checkTransferEncoding(transferEncoding);
      framing = "chunked";
    } else if (contentLengthCount > 1) {
      fail("more than one Content-Length field", "TSGI_ERR_BAD_CONTENT_LENGTH");
    } else if (contentLengthCount === 1) {
      if (contentLength > this.limits.maxBodySize)
        fail("request body too large", "TSGI_ERR_BODY_TOO_LARGE", 413);
      if (contentLength > 0) framing = "length";
    }

    const hasBody = framing !== "none";
    const head: RequestHead = {
      type: "request",
      method: this.method,
      target: this.target,
      version,
      headers,
      host,
      framing,
      contentLength: framing === "length" ? contentLength : framing === "none" ? 0 : -1,
      keepAlive: version === 11 ? !close : keepAliveToken && !close,
      expectContinue: expectContinue && version === 11 && hasBody,
      upgrade: upgradeToken ? upgrade : "",
    };
    if (framing === "length") {
      this.state = BODY_LENGTH;
      this.remaining = contentLength;
    } else if (framing === "chunked") {
      this.state = CHUNK_SIZE;
    } else {
      this.state = END;
    }
    return head;
  }

  // ---- bodies -------------------------------------------------------------

  private readLengthBody(): BodyData | typeof NEED_DATA {
    const available = this.buf.length - this.pos;
    if (available === 0) {
      if (this.eof) fail("connection closed in the middle of a request body", "TSGI_ERR_INCOMPLETE_MESSAGE");
      return NEED_DATA;
    }
    const n = Math.min(available, this.remaining);
    const data = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.remaining -= n;
    if (this.remaining === 0) this.state = END;
    return { type: "data", data };
  }

  private readChunked(): BodyData | EndOfMessage | typeof NEED_DATA {
    for (;;) {
      const buf = this.buf;
      switch (this.state) {
        case CHUNK_SIZE: {
          const lf = buf.indexOf(LF, this.pos);
          if (lf === -1) {
            if (buf.length - this.pos > this.limits.maxChunkLineSize)
              fail("chunk-size line too long", "TSGI_ERR_BAD_CHUNK");
            return this.needData();
          }
          if (lf - this.pos > this.limits.maxChunkLineSize)
            fail("chunk-size line too long", "TSGI_ERR_BAD_CHUNK");
          if (lf === this.pos || buf[lf - 1] !== CR)
            fail("chunk-size line not terminated by CRLF", "TSGI_ERR_BAD_CHUNK");
          const size = parseChunkSizeLine(buf, this.pos, lf - 1);
          this.pos = lf + 1;
          this.bodySize += size;
          if (this.bodySize > this.limits.maxBodySize)
            fail("request body too large", "TSGI_ERR_BODY_TOO_LARGE", 413);
          if (size === 0) {
            this.state = TRAILERS;
            this.scan = this.lineStart = this.pos;
            this.headSize = 0;
          } else {
            this.remaining = size;
            this.state = CHUNK_DATA;
          }
          break;
        }
        case CHUNK_DATA: {
          const available = buf.length - this.pos;
          if (available === 0) return this.needData();
          const n = Math.min(available, this.remaining);
          const data = buf.subarray(this.pos, this.pos + n);
          this.pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = CHUNK_DATA_END;
          return { type: "data", data };
        }
        case CHUNK_DATA_END: {
          if (buf.length - this.pos < 2) {
            if (buf.length > this.pos && buf[this.pos] !== CR)
              fail("chunk data not followed by CRLF", "TSGI_ERR_BAD_CHUNK");
            return this.needData();
          }
          if (buf[this.pos] !== CR || buf[this.pos + 1] !== LF)
            fail("chunk data not followed by CRLF", "TSGI_ERR_BAD_CHUNK");
          this.pos += 2;
          this.state = CHUNK_SIZE;
          break;
        }
        case TRAILERS: {
          const lf = buf.indexOf(LF, this.scan);
          if (lf === -1) {
            this.scan = buf.length;
            if (this.headSize + buf.length - this.lineStart > this.limits.maxHeaderSize + 1) {
              fail("trailer section too large", "TSGI_ERR_HEADERS_TOO_LARGE", 431);
            }
            return this.needData();
          }
          const start = this.lineStart;
          // As for the head: the size limit before the line ending, whatever the split.
          if (lf - start !== 1 && this.headSize + lf + 1 - start > this.limits.maxHeaderSize)
            fail("trailer section too large", "TSGI_ERR_HEADERS_TOO_LARGE", 431);
          if (lf === start || buf[lf - 1] !== CR)
            fail("line not terminated by CRLF", "TSGI_ERR_BAD_LINE_ENDING");
          this.scan = this.lineStart = this.pos = lf + 1;
          if (lf - 1 === start) {
            this.state = DONE;
            return { type: "end", trailers: this.trailers };
          }
          this.headSize += lf + 1 - start;
          if (this.trailers.length >= this.limits.maxHeaderCount * 2) {
            fail("too many trailer fields", "TSGI_ERR_TOO_MANY_HEADERS", 431);
          }
          parseFieldLine(buf, start, lf - 1, this.trailers);
          const name = this.trailers[this.trailers.length - 2]!.toLowerCase();
          if (FORBIDDEN_TRAILERS.has(name)) fail("field not allowed in trailers", "TSGI_ERR_BAD_HEADER_NAME");
          break;
        }
        default:
          throw new Error(`unreachable parser state ${this.state}`);
      }
    }
  }

  private needData(): typeof NEED_DATA {
    if (this.eof) fail("connection closed in the middle of a chunked body", "TSGI_ERR_INCOMPLETE_MESSAGE");
    return NEED_DATA;
  }
}

// ---- pure helpers (exported for the serializer and tests) -------------------

/** Parses `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3): 1.0 and 1.1 accepted, other 1-digit versions → 505, anything else → 400. */
function parseVersion(buf: Buffer, start: number, end: number): 10 | 11 {
  if (
    end - start !== 8 ||
    buf[start] !== 0x48 || // H
    buf[start + 1] !== 0x54 || // T
    buf[start + 2] !== 0x54 || // T
    buf[start + 3] !== 0x50 || // P
    buf[start + 4] !== 0x2f || // /
    buf[start + 6] !== 0x2e // .
  ) {
    fail("malformed HTTP version", "TSGI_ERR_BAD_VERSION");
  }
  const major = buf[start + 5]! - 0x30;
  const minor = buf[start + 7]! - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9)
    fail("malformed HTTP version", "TSGI_ERR_BAD_VERSION");
  if (major === 1 && minor === 1) return 11;
  if (major === 1 && minor === 0) return 10;
  return fail(`HTTP/${major}.${minor} is not supported`, "TSGI_ERR_UNSUPPORTED_VERSION", 505);
}

const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** The four request-target forms of RFC 9112 §3.2, each only with the method it belongs to. */
function checkTargetForm(method: string, target: string): void {
  const first = target.charCodeAt(0);
  if (method === "CONNECT") {
    // authority-form: uri-host ":" port, nothing else.
    const colon = target.lastIndexOf(":");
    if (colon <= 0 || colon === target.length - 1 || !/^[0-9]+$/.test(target.slice(colon + 1))) {
      fail("CONNECT needs an authority-form target", "TSGI_ERR_BAD_TARGET");
    }
    checkAuthority(target.slice(0, colon));
    return;
  }
  if (first === 0x2f /* / */) return; // origin-form
  if (target === "*") {
    if (method !== "OPTIONS") fail("asterisk-form target is only for OPTIONS", "TSGI_ERR_BAD_TARGET");
    return;
  }
  if (SCHEME_RE.test(target)) {
    // absolute-form. An origin server is sent it only for http and https URIs
    // (RFC 9112 §3.2.2, RFC 9110 §4.2); any other scheme is 400, and so is
    // "example.com:443", which RFC 3986 would read as the scheme "example.com".
    const colon = target.indexOf(":");
    const scheme = target.slice(0, colon).toLowerCase();
    if (scheme !== "http" && scheme !== "https")
      fail("absolute-form is only for http and https URIs", "TSGI_ERR_BAD_TARGET");
    // http-URI = "http" "://" authority path-abempty [ "?" query ] (RFC 9110 §4.2.1).
    const rest = target.slice(colon + 1);
    if (!rest.startsWith("//")) fail("http URI without an authority", "TSGI_ERR_BAD_TARGET");
    let end = rest.length;
    for (const c of "/?#") {
      const k = rest.indexOf(c, 2);
      if (k !== -1 && k < end) end = k;
    }
    const authority = rest.slice(2, end);
    const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
    // RFC 9110 §4.2.1/§4.2.2: an http(s) URI with an empty host is invalid and MUST be rejected.
    if (hostPort === "" || hostPort.startsWith(":"))
      fail("http URI with an empty host", "TSGI_ERR_BAD_TARGET");
    checkAuthority(hostPort);
    return;
  }
  fail("request target is in none of the four forms", "TSGI_ERR_BAD_TARGET");
}

/** host [":" port] where host may be an IP literal in brackets (RFC 3986 §3.2.2). */
function checkAuthority(authority: string): void {
  let host = authority;
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close === -1) fail("unterminated IP literal in target", "TSGI_ERR_BAD_TARGET");
    const after = host.slice(close + 1);
    if (after !== "" && !/^:[0-9]*$/.test(after)) fail("invalid authority in target", "TSGI_ERR_BAD_TARGET");
    host = host.slice(1, close);
    if (!/^[0-9A-Fa-f:.]+$|^v[0-9A-Fa-f]+\..+$/.test(host))
      fail("invalid IP literal in target", "TSGI_ERR_BAD_TARGET");
    return;
  }
  const colon = host.indexOf(":");
  if (colon !== -1) {
    if (!/^[0-9]*$/.test(host.slice(colon + 1))) fail("invalid port in target", "TSGI_ERR_BAD_TARGET");
    host = host.slice(0, colon);
  }
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (HOST_CHAR[c] !== 1 || c === 0x5b || c === 0x5d || c === COLON)
      fail("invalid host in target", "TSGI_ERR_BAD_TARGET");
  }
}

/**
 * Parses one `field-name ":" OWS field-value OWS` line (RFC 9112 §5) and
 * appends name and value to `out`.
 */
function parseFieldLine(buf: Buffer, start: number, end: number, out: string[]): void {
  const first = buf[start]!;
  if (first === SP || first === HTAB) {
    // RFC 9112 §5.2: obs-fold may be rejected with 400; we always do.
    fail("obsolete line folding", "TSGI_ERR_OBS_FOLD");
  }
  let i = start;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === start || i === end || buf[i] !== COLON) {
    // Covers whitespace before the colon (RFC 9112 §5.1 says 400) and any non-tchar byte.
    fail("invalid header field name", "TSGI_ERR_BAD_HEADER_NAME");
  }
  const name = latin1(buf, start, i);
  let vs = i + 1;
  let ve = end;
  while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
  const value = latin1(buf, vs, ve);
  // One regex scan of the decoded string is faster than a JS loop over the bytes.
  if (INVALID_FIELD_VALUE.test(value))
    fail("invalid character in header field value", "TSGI_ERR_BAD_HEADER_VALUE");
  out.push(name, value);
}

/** `Content-Length = 1*DIGIT` (RFC 9110 §8.6); no sign, no spaces inside, no list form. */
function parseContentLength(value: string): number {
  const n = value.length;
  if (n === 0) fail("invalid Content-Length", "TSGI_ERR_BAD_CONTENT_LENGTH");
  let v = 0;
  let significant = 0; // leading zeros do not count towards the digit limit
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) fail("invalid Content-Length", "TSGI_ERR_BAD_CONTENT_LENGTH");
    if ((v !== 0 || d !== 0) && ++significant > MAX_CONTENT_LENGTH_DIGITS) {
      fail("Content-Length too large", "TSGI_ERR_BAD_CONTENT_LENGTH");
    }
    v = v * 10 + d;
  }
  return v;
}

/**
 * The parameters after a transfer coding's name: `*( OWS ";" OWS token BWS
 * "=" BWS ( token / quoted-string ) )` (RFC 9112 §7, RFC 9110 §5.6.6).
 */
const CODING_PARAMETERS =
  /^(?:[ \t]*;[ \t]*[-!#$%&'*+.^_`|~0-9A-Za-z]+[ \t]*=[ \t]*(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+|"(?:[\t !#-[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))*[ \t]*$/;

/**
 * `chunked` must be the final coding and appear once (RFC 9112 §6.1, §7).
 * Any other coding in front of it is one we do not decode → 501. Malformed
 * parameters, and any parameter on `chunked` (it defines none), get 400: a
 * proxy that reads `chunked;` or `chunked;x=1` as some other coding would
 * frame the body differently from us.
 */
function checkTransferEncoding(value: string): void {
  const codings: string[] = [];
  for (const element of value.split(",")) {
    const semi = element.indexOf(";");
    // OWS is SP/HTAB only (RFC 9110 §5.6.3). trim() would also strip 0xA0 and read
    // "\xa0chunked" as chunked, which a proxy reads as an unknown coding: smuggling.
    const coding = trimOWS(semi === -1 ? element : element.slice(0, semi)).toLowerCase();
    // Empty list elements are allowed (RFC 9110 §5.6.1); parameters need a coding.
    if (coding === "" && semi === -1) continue;
    if (coding === "") fail("invalid Transfer-Encoding", "TSGI_ERR_BAD_TRANSFER_ENCODING");
    for (let i = 0; i < coding.length; i++) {
      if (TCHAR[coding.charCodeAt(i)] !== 1)
        fail("invalid Transfer-Encoding", "TSGI_ERR_BAD_TRANSFER_ENCODING");
    }
    if (semi !== -1) {
      if (!CODING_PARAMETERS.test(element.slice(semi)))
        fail("invalid Transfer-Encoding parameters", "TSGI_ERR_BAD_TRANSFER_ENCODING");
      if (coding === "chunked") fail("chunked takes no parameters", "TSGI_ERR_BAD_TRANSFER_ENCODING");
    }
    codings.push(coding);
  }
  if (codings.length === 0 || codings[codings.length - 1] !== "chunked") {
    fail("chunked is not the final transfer coding", "TSGI_ERR_BAD_TRANSFER_ENCODING");
  }
  for (let i = 0; i < codings.length - 1; i++) {
    if (codings[i] === "chunked") fail("chunked applied more than once", "TSGI_ERR_BAD_TRANSFER_ENCODING");
  }
  if (codings.length > 1) {
    fail(
      "transfer codings other than chunked are not implemented",
      "TSGI_ERR_UNSUPPORTED_TRANSFER_CODING",
      501,
    );
  }
}

/**
 * `chunk-size [ chunk-ext ]` (RFC 9112 §7.1). Extensions are validated and
 * skipped: `*( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )`.
 */
function parseChunkSizeLine(buf: Buffer, start: number, end: number): number {
  let i = start;
  let size = 0;
  let significant = 0; // leading zeros do not count towards the digit limit
  while (i < end) {
    const h = hexValue(buf[i]!);
    if (h === -1) break;
    if ((size !== 0 || h !== 0) && ++significant > MAX_CHUNK_SIZE_DIGITS) {
      fail("chunk size too large", "TSGI_ERR_BAD_CHUNK");
    }
    size = size * 16 + h;
    i++;
  }
  if (i === start) fail("invalid chunk size", "TSGI_ERR_BAD_CHUNK");
  while (i < end) {
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    if (buf[i] !== 0x3b /* ; */) fail("invalid chunk extension", "TSGI_ERR_BAD_CHUNK");
    i++;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    const nameStart = i;
    while (i < end && TCHAR[buf[i]!] === 1) i++;
    if (i === nameStart) fail("invalid chunk extension", "TSGI_ERR_BAD_CHUNK");
    let j = i;
    while (j < end && (buf[j] === SP || buf[j] === HTAB)) j++;
    if (j < end && buf[j] === 0x3d /* = */) {
      i = j + 1;
      while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
      if (buf[i] === 0x22 /* " */) {
        i = skipQuotedString(buf, i, end);
      } else {
        const valueStart = i;
        while (i < end && TCHAR[buf[i]!] === 1) i++;
        if (i === valueStart) fail("invalid chunk extension", "TSGI_ERR_BAD_CHUNK");
      }
    } else if (j < end && buf[j] !== 0x3b) {
      fail("invalid chunk extension", "TSGI_ERR_BAD_CHUNK");
    }
  }
  return size;
}

/** Skips a quoted-string (RFC 9110 §5.6.4) starting at the opening quote; returns the index after the closing one. */
function skipQuotedString(buf: Buffer, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = buf[i]!;
    if (c === 0x22) return i + 1;
    if (c === 0x5c /* \ */) {
      i++;
      if (i >= end || FIELD_VALUE_CHAR[buf[i]!] !== 1)
        fail("invalid quoted-pair in chunk extension", "TSGI_ERR_BAD_CHUNK");
    } else if (FIELD_VALUE_CHAR[c] !== 1) {
      fail("invalid character in chunk extension", "TSGI_ERR_BAD_CHUNK");
    }
    i++;
  }
  return fail("unterminated quoted-string in chunk extension", "TSGI_ERR_BAD_CHUNK");
}
