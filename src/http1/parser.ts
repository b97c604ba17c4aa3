/**
 * Incremental, strict HTTP/1.1 request parser (RFC 9112), sans-IO.
 *
 * Bytes go in with `receiveData()`, events come out of `nextEvent()`. It never
 * touches a socket or a timer, so it can be driven by a test with literal
 * bytes, split anywhere: the resume points are the request head (rescanned
 * only from where the last scan stopped), the chunk-size line, chunk data and
 * the trailer section. After a complete request it pauses until
 * `startNextCycle()`, which is how pipelined requests are answered in order.
 *
 * This file is the parser's state machine only. The jobs it drives live
 * below it: line-reader.ts (bytes and lines), request-line.ts,
 * request-target.ts, field-line.ts and chunked.ts (grammar), head-semantics.ts
 * and framing.ts (what the fields mean), limits.ts (the one check of each
 * size limit).
 */

import { CR, LF } from "./chars.ts";
import { parseChunkSizeLine } from "./chunked.ts";
import { fail } from "./errors.ts";
import {
  type BodyData,
  type EndOfMessage,
  NEED_DATA,
  PAUSED,
  type RequestHead,
  type ServerEvent,
} from "./events.ts";
import { parseFieldLine } from "./field-line.ts";
import { checkTrailerField, interpretHead } from "./head-semantics.ts";
import {
  checkBodySize,
  checkChunkLineSize,
  checkFieldCount,
  checkFieldSectionSize,
  checkRequestLineSize,
  DEFAULT_LIMITS,
  type ParserLimits,
} from "./limits.ts";
import { LineReader } from "./line-reader.ts";
import { parseRequestLine, type RequestLine } from "./request-line.ts";
// The parser's states and the edges between them: PARSER_TABLE in states.ts.
import { BODY_LENGTH, CHUNK_DATA, CHUNK_DATA_END, CHUNK_SIZE, DONE, END, HEAD, TRAILERS } from "./states.ts";
import { InternalError } from "./tsgi-error.ts";

/** Kept importable from here (the differential fuzzer reads it). */
export { FORBIDDEN_TRAILERS } from "./head-semantics.ts";

/** Empty lines tolerated before a request line (RFC 9112 §2.2 says ignore "at least one"). */
const MAX_LEADING_EMPTY_LINES = 4;

/** The trailers of a message that has none: shared, so frozen. */
const NO_TRAILERS = Object.freeze([]) as unknown as string[];
/** The end of a message without trailers (nearly every message): one shared, frozen event. */
const END_WITHOUT_TRAILERS: EndOfMessage = Object.freeze({ type: "end", trailers: NO_TRAILERS });

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
export class RequestParser extends LineReader {
  readonly limits: ParserLimits;

  private state = HEAD;

  // Head state: the request line read so far, field lines, bytes they count.
  private readonly line: RequestLine = { method: "", target: "", version: 11 };
  private headers: string[] = [];
  /** Bytes of the field lines accepted so far in the header (or trailer) section. */
  private sectionSize = 0;
  private leadingEmptyLines = 0;

  // Body state.
  private remaining = 0;
  private bodySize = 0;
  /** NO_TRAILERS until a trailer field arrives (most messages have none). */
  private trailers: string[] = NO_TRAILERS;

  constructor(limits: Partial<ParserLimits> = {}) {
    super();
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** True between a complete request and `startNextCycle()`. */
  get paused(): boolean {
    return this.state === DONE;
  }

  /** True while nothing of the next request has been parsed (used to tell idle from mid-request). */
  get idle(): boolean {
    return this.state === HEAD && this.line.method === "" && this.lineStart === this.buf.length;
  }

  /**
   * Forgets the finished request and starts parsing the next one from the
   * bytes already buffered. Call once the response to the previous one is complete.
   */
  startNextCycle(): void {
    if (this.state !== DONE) throw new InternalError("startNextCycle() before the request was complete");
    this.state = HEAD; // next_cycle
    this.startLines();
    this.sectionSize = 0;
    this.leadingEmptyLines = 0;
    this.line.method = "";
    this.headers = [];
    this.trailers = NO_TRAILERS;
    this.bodySize = 0;
  }

  /**
   * Hands over the bytes received after the complete request and forgets
   * them: after a protocol switch (101) they belong to the new protocol.
   */
  takeTrailingData(): Uint8Array {
    if (this.state !== DONE) throw new InternalError("takeTrailingData() before the request was complete");
    return this.takeRest();
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
        this.state = DONE; // end
        this.releaseIfConsumed();
        return END_WITHOUT_TRAILERS;
      default:
        return PAUSED;
    }
  }

  // ---- request head -------------------------------------------------------

  private readHead(): RequestHead | typeof NEED_DATA | { type: "closed" } {
    const buf = this.buf;
    const limits = this.limits;
    const line = this.line;
    for (;;) {
      const lf = this.findLineEnd();
      const start = this.lineStart;
      // Size limits before the line ending, and before waiting for more: the
      // same check either way, so the answer (414/431 or 400) does not
      // depend on how the input was split.
      const lineBytes = (lf === -1 ? buf.length : lf) - start;
      if (line.method === "") checkRequestLineSize(lineBytes, limits);
      else checkFieldSectionSize(this.sectionSize, lineBytes, lf !== -1, limits, "header section too large");
      if (lf === -1) {
        if (this.eof) {
          if (start === buf.length && line.method === "") return { type: "closed" };
          fail("connection closed in the middle of a request head", "TSGI_ERR_INCOMPLETE_MESSAGE");
        }
        return NEED_DATA;
      }
      this.takeLine(lf);
      const end = lf - 1;

      if (line.method === "") {
        if (end === start) {
          if (++this.leadingEmptyLines > MAX_LEADING_EMPTY_LINES)
            fail("too many empty lines", "TSGI_ERR_BAD_REQUEST_LINE");
          this.pos = lf + 1;
          continue;
        }
        parseRequestLine(buf, start, end, line);
        continue;
      }

      if (end === start) {
        this.pos = lf + 1;
        return this.finishHead();
      }
      // A field line (its size already checked), CRLF included in the section's size.
      this.sectionSize += lf + 1 - start;
      checkFieldCount(this.headers, limits, "too many header fields");
      parseFieldLine(buf, start, end, this.headers);
    }
  }

  /** The head is complete: read what its fields mean and go on to the body it announces. */
  private finishHead(): RequestHead {
    const head = interpretHead(this.line, this.headers, this.limits);
    const framing = head.framing;
    if (framing === "length") {
      this.state = BODY_LENGTH; // head_length
      this.remaining = head.contentLength;
    } else if (framing === "chunked") {
      this.state = CHUNK_SIZE; // head_chunked
    } else {
      this.state = END; // head_no_body
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
    if (this.remaining === 0) this.state = END; // last_byte
    return { type: "data", data };
  }

  private readChunked(): BodyData | EndOfMessage | typeof NEED_DATA {
    for (;;) {
      const buf = this.buf;
      switch (this.state) {
        case CHUNK_SIZE: {
          const lf = buf.indexOf(LF, this.pos);
          checkChunkLineSize((lf === -1 ? buf.length : lf) - this.pos, this.limits);
          if (lf === -1) return this.needData();
          if (lf === this.pos || buf[lf - 1] !== CR)
            fail("chunk-size line not terminated by CRLF", "TSGI_ERR_BAD_CHUNK");
          const size = parseChunkSizeLine(buf, this.pos, lf - 1);
          this.pos = lf + 1;
          this.bodySize += size;
          checkBodySize(this.bodySize, this.limits);
          if (size === 0) {
            this.state = TRAILERS; // last_chunk
            this.startLines();
            this.sectionSize = 0;
          } else {
            this.remaining = size;
            this.state = CHUNK_DATA; // chunk_size
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
          if (this.remaining === 0) this.state = CHUNK_DATA_END; // chunk_data_end
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
          this.state = CHUNK_SIZE; // crlf
          break;
        }
        case TRAILERS: {
          const lf = this.findLineEnd();
          const start = this.lineStart;
          // As for the head: the size limit before the line ending, whatever the split.
          const lineBytes = (lf === -1 ? buf.length : lf) - start;
          checkFieldSectionSize(
            this.sectionSize,
            lineBytes,
            lf !== -1,
            this.limits,
            "trailer section too large",
          );
          if (lf === -1) return this.needData();
          this.takeLine(lf);
          this.pos = lf + 1;
          if (lf - 1 === start) {
            this.state = DONE; // empty_line
            this.releaseIfConsumed();
            return this.trailers === NO_TRAILERS
              ? END_WITHOUT_TRAILERS
              : { type: "end", trailers: this.trailers };
          }
          // A field line, as in the head.
          this.sectionSize += lf + 1 - start;
          if (this.trailers === NO_TRAILERS) this.trailers = [];
          checkFieldCount(this.trailers, this.limits, "too many trailer fields");
          parseFieldLine(buf, start, lf - 1, this.trailers);
          checkTrailerField(this.trailers);
          break;
        }
        default:
          throw new InternalError(`unreachable parser state ${this.state}`);
      }
    }
  }

  private needData(): typeof NEED_DATA {
    if (this.eof) fail("connection closed in the middle of a chunked body", "TSGI_ERR_INCOMPLETE_MESSAGE");
    return NEED_DATA;
  }
}
