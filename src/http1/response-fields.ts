/**
 * The app's response fields, checked before they reach the wire: a field
 * name must be a token and a value field text (RFC 9110 §5.1, §5.5), so no
 * app can inject a line; a reason phrase likewise. And their serialization
 * for final (FinalFields) and interim (interimFields) heads. No I/O.
 */

import { TCHAR } from "./chars.ts";
import { LocalProtocolError } from "./errors.ts";
import { statusLine } from "./status.ts";

/** Response header names already checked; apps send the same few names again and again. */
const knownTokens = new Set<string>();
const KNOWN_TOKENS_LIMIT = 512;

function isToken(s: string): boolean {
  if (knownTokens.has(s)) return true;
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  if (knownTokens.size < KNOWN_TOKENS_LIMIT) knownTokens.add(s);
  return true;
}

/** Anything but HTAB, SP..~ and U+0080..U+00FF: CR, LF, NUL, other CTLs, DEL, and chars a byte cannot hold. */
const NOT_FIELD_TEXT = /[^\t\x20-\x7e\x80-\xff]/;

/** Field values and reason phrases: no CR, LF, NUL or other CTL, nothing above U+00FF. */
export function isFieldText(s: string): boolean {
  return !NOT_FIELD_TEXT.test(s);
}

/** Anything but HTAB and SP..~: field text of plain ASCII (the common case) matches nothing. */
export const NOT_PLAIN_TEXT = /[^\t\x20-\x7e]/;

/**
 * Refuses a response field whose name is not a token or whose value could
 * inject a line (CR, LF, NUL, ...). Returns whether the value is plain ASCII:
 * a head of ASCII only reads the same in UTF-8 as in Latin-1 (obs-text in a
 * field value does not), which `ServerConnection.sendResponse` needs to
 * know. One scan answers both for a plain value.
 */
export function checkField(name: string, value: string): boolean {
  if (!isToken(name))
    throw new LocalProtocolError("invalid response header name", "TSGI_ERR_BAD_RESPONSE_HEADER");
  if (typeof value === "string" && !NOT_PLAIN_TEXT.test(value)) return true;
  if (typeof value !== "string" || !isFieldText(value)) {
    throw new LocalProtocolError(`invalid value for response header ${name}`, "TSGI_ERR_BAD_RESPONSE_HEADER");
  }
  return false;
}

/**
 * The field lines of an interim (1xx) head, each checked, framing fields
 * dropped: a 1xx has no body, so they would only mislead (RFC 9110 §8.6,
 * §15.2). Also says whether the app gave `Date` and `Server` (a 101 adds
 * them otherwise).
 */
export function interimFields(headers: readonly string[]): {
  lines: string;
  hasDate: boolean;
  hasServer: boolean;
} {
  let lines = "";
  let hasDate = false;
  let hasServer = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    checkField(name, value);
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") continue;
    if (lower === "date") hasDate = true;
    else if (lower === "server") hasServer = true;
    lines += `${name}: ${value}\r\n`;
  }
  return { lines, hasDate, hasServer };
}

/**
 * A final response's status line and the app's field lines: checked,
 * serialized, and read for what the server needs to know (Content-Length,
 * `Connection: close`, whether the app gave Date or Server, whether it is all
 * plain ASCII). The server owns framing, so the app's Transfer-Encoding,
 * Connection and Keep-Alive lines are dropped (RFC 9112 §6, §9.6), and so is
 * a Content-Length on a 204 or a 2xx to CONNECT (RFC 9110 §8.6).
 *
 * A connection keeps the last one: apps answer request after request with
 * the same fields, and a response whose status, reason and fields equal the
 * previous one's, string for string, reuses its checked lines instead of
 * checking and joining them again (`repeats`). Equal strings pass the same
 * checks, so nothing unchecked is ever written.
 */
export class FinalFields {
  /** The status line and field lines, CRLF-terminated, without the blank line. */
  readonly block: string;
  /** Whether `block` is plain ASCII (then Latin-1 and UTF-8 read it the same). */
  readonly ascii: boolean;
  /** The app's Content-Length, or -1. */
  readonly appLength: number = -1;
  /** The app asked for `Connection: close`. */
  readonly appClose: boolean = false;
  readonly hasDate: boolean = false;
  readonly hasServer: boolean = false;
  private readonly status: number;
  private readonly reason: string | undefined;
  /** A copy of the fields as given: the app may change its own array later. */
  private readonly given: readonly string[];

  /** @throws LocalProtocolError for an invalid reason, field name or value, or Content-Length. */
  constructor(status: number, reason: string | undefined, headers: readonly string[], tunnel: boolean) {
    if (reason !== undefined && !isFieldText(reason)) {
      throw new LocalProtocolError("invalid reason phrase", "TSGI_ERR_BAD_STATUS");
    }
    let out = statusLine(status, reason);
    let ascii = reason === undefined || !NOT_PLAIN_TEXT.test(reason);
    let appLength = -1;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (!checkField(name, value)) ascii = false;
      switch (name.length) {
        case 4:
          if (name.toLowerCase() === "date") this.hasDate = true;
          break;
        case 6:
          if (name.toLowerCase() === "server") this.hasServer = true;
          break;
        case 10: {
          const lower = name.toLowerCase();
          if (lower === "connection") {
            // OWS is SP/HTAB (RFC 9110 §5.6.3); `\s` would also split on 0xA0.
            if (/(^|[ \t,])close([ \t,]|$)/i.test(value)) this.appClose = true;
            continue;
          }
          if (lower === "keep-alive") continue;
          break;
        }
        case 14:
          if (name.toLowerCase() === "content-length") {
            if (!/^[0-9]{1,15}$/.test(value) || appLength !== -1) {
              throw new LocalProtocolError("invalid response Content-Length", "TSGI_ERR_BAD_RESPONSE_HEADER");
            }
            appLength = Number(value);
            // RFC 9110 §8.6: never a Content-Length in a 204 or a 2xx to CONNECT.
            if (status === 204 || tunnel) continue;
          }
          break;
        case 17:
          if (name.toLowerCase() === "transfer-encoding") continue;
          break;
      }
      out += `${name}: ${value}\r\n`;
    }
    this.block = out;
    this.ascii = ascii;
    this.appLength = appLength;
    this.status = status;
    this.reason = reason;
    this.given = headers.slice();
  }

  /** Whether a response with this status, reason and fields would give exactly these lines. */
  repeats(status: number, reason: string | undefined, headers: readonly string[]): boolean {
    const given = this.given;
    if (status !== this.status || reason !== this.reason || headers.length !== given.length) return false;
    for (let i = 0; i < given.length; i++) if (headers[i] !== given[i]) return false;
    return true;
  }
}

/**
 * The last whole final head a connection wrote, kept for the next response
 * that would write the same one: the same {@link FinalFields}, framing line,
 * and Connection, Date and Server lines. A connection answering the same
 * way again (pipelined or keep-alive requests to one route) then pays for
 * none of the joins. Built with `join`, which makes one flat string: the
 * socket write copies it once instead of walking a rope of pieces.
 */
export class RepeatedHead {
  private fields: FinalFields | null = null;
  private framingLine = -1;
  private connectionLine = "";
  private dateLine = "";
  private serverLine = "";
  private head = "";

  /**
   * The head: `fields`' lines, then `Content-Length: framingLine` (when it
   * is 0 or more) or `Transfer-Encoding: chunked` (-2) or nothing (-1), the
   * given Connection, Date and Server lines (each "" for none), and the
   * blank line.
   */
  text(
    fields: FinalFields,
    framingLine: number,
    connectionLine: string,
    dateLine: string,
    serverLine: string,
  ): string {
    if (
      fields === this.fields &&
      framingLine === this.framingLine &&
      connectionLine === this.connectionLine &&
      dateLine === this.dateLine &&
      serverLine === this.serverLine
    ) {
      return this.head;
    }
    const framing =
      framingLine >= 0
        ? `Content-Length: ${framingLine}\r\n`
        : framingLine === -2
          ? "Transfer-Encoding: chunked\r\n"
          : "";
    this.head = [fields.block, framing, connectionLine, dateLine, serverLine, "\r\n"].join("");
    this.fields = fields;
    this.framingLine = framingLine;
    this.connectionLine = connectionLine;
    this.dateLine = dateLine;
    this.serverLine = serverLine;
    return this.head;
  }
}
