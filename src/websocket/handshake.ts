/**
 * The server side of the WebSocket opening handshake (RFC 6455 §4.2), sans-IO:
 * a parsed request head in, a validated {@link HandshakeRequest} or a
 * {@link HandshakeError} out; a 101 response head back. Extension negotiation
 * (permessage-deflate) lives in deflate.ts; this file only carries the raw
 * `Sec-WebSocket-Extensions` value through.
 */

import { createRequire } from "node:module";
import { listElements, TCHAR, trimOWS } from "../http1/chars.ts";
import type { RequestHead, ResponseHead } from "../http1/events.ts";
import { HandshakeError, WebSocketUsageError } from "./errors.ts";

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** What a valid opening handshake asked for. */
export interface HandshakeRequest {
  /** The `Sec-WebSocket-Key` value (24 base64 chars). */
  key: string;
  /** `Sec-WebSocket-Protocol` tokens in the client's order (its preference, §4.1), all header lines joined. */
  protocols: string[];
  /** Raw `Sec-WebSocket-Extensions`, lines joined with ", " ("" when absent). */
  extensions: string;
  /** The `Origin` value, or null when absent (non-browser clients). */
  origin: string | null;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}

function bad(message: string): never {
  throw new HandshakeError(message, 400);
}

/**
 * Validates an opening handshake (RFC 6455 §4.2.1).
 *
 * Refusals: 400 for a request that is not a WebSocket handshake or is a
 * malformed one; 426 with `Sec-WebSocket-Version: 13` when
 * `Sec-WebSocket-Version` is missing or is not exactly `13`. A missing
 * version gets 426 rather than 400 because the clients that omit it are the
 * pre-RFC drafts (hixie-76), and 426 plus the header tells them what we speak
 * (§4.2.2 step 4).
 *
 * @example
 * const req = checkHandshake(head); // throws HandshakeError
 * const response = acceptResponse(req, { protocol: selectProtocol(req.protocols, ["chat"]) });
 */
export function checkHandshake(head: RequestHead): HandshakeRequest {
  if (head.method !== "GET") bad("WebSocket handshake must use GET");
  if (head.version !== 11) bad("WebSocket handshake needs HTTP/1.1");
  if (head.framing !== "none") bad("WebSocket handshake must not have a body");

  let upgradeOk = false;
  let connectionOk = false;
  let key: string | null = null;
  let keyCount = 0;
  let version: string | null = null;
  const protocolLines: string[] = [];
  const extensionLines: string[] = [];
  let origin: string | null = null;

  const headers = head.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    const value = headers[i + 1]!;
    switch (name) {
      // List elements are trimmed of SP/HTAB only (RFC 9110 §5.6.1, §5.6.3):
      // "\xa0websocket" is not websocket, "\xa0upgrade" not upgrade.
      case "upgrade":
        // Upgrade elements are protocol["/" version]; "websocket" has no version (§4.1).
        for (const t of listElements(value)) if (t.toLowerCase() === "websocket") upgradeOk = true;
        break;
      case "connection":
        for (const t of listElements(value)) if (t.toLowerCase() === "upgrade") connectionOk = true;
        break;
      case "sec-websocket-key":
        keyCount++;
        key = value;
        break;
      case "sec-websocket-version":
        version = version === null ? value : `${version}, ${value}`;
        break;
      case "sec-websocket-protocol":
        protocolLines.push(value);
        break;
      case "sec-websocket-extensions":
        extensionLines.push(value);
        break;
      case "origin":
        if (origin === null) origin = value;
        break;
    }
  }

  if (!upgradeOk) bad("Upgrade header must contain websocket");
  if (!connectionOk) bad("Connection header must contain upgrade");
  if (keyCount !== 1 || key === null) bad("Sec-WebSocket-Key must appear exactly once");
  // Strict base64 of exactly 16 bytes: 22 chars and "==", and canonical (the
  // round trip rejects non-zero padding bits, which lenient decoders ignore).
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key) || Buffer.from(key, "base64").toString("base64") !== key) {
    bad("Sec-WebSocket-Key must be 16 bytes in base64");
  }
  // OWS is SP/HTAB only (RFC 9110 §5.6.3): "\xa013" is not 13.
  if (version === null || trimOWS(version) !== "13") {
    throw new HandshakeError(
      version === null ? "Sec-WebSocket-Version is missing" : "unsupported Sec-WebSocket-Version",
      426,
      ["Sec-WebSocket-Version", "13"],
    );
  }

  const protocols: string[] = [];
  for (const line of protocolLines) {
    for (const p of listElements(line)) {
      if (!isToken(p)) bad("Sec-WebSocket-Protocol must be a list of tokens");
      if (protocols.includes(p)) bad("Sec-WebSocket-Protocol lists a protocol twice");
      protocols.push(p);
    }
  }

  return { key, protocols, extensions: extensionLines.join(", "), origin };
}

let cryptoModule: typeof import("node:crypto") | null = null;

/**
 * node:crypto, loaded at the first handshake rather than with the server:
 * it adds about 2 MiB to the resident size of every process that imports
 * it (measured on a bare `node` process), and many servers never see a WebSocket.
 */
function crypto(): typeof import("node:crypto") {
  cryptoModule ??= createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");
  return cryptoModule;
}

/**
 * The `Sec-WebSocket-Accept` value for a key: base64(SHA-1(key + GUID)), RFC 6455 §4.2.2.
 *
 * @example
 * acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); // "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
 */
export function acceptKey(key: string): string {
  return crypto()
    .createHash("sha1")
    .update(key + GUID, "latin1")
    .digest("base64");
}

/**
 * Picks a subprotocol: the first of the client's offers (in its order, which
 * §4.1 defines as its preference) that we support; null when none match.
 * Comparison is exact: subprotocol names are case-sensitive tokens (§11.3.4).
 *
 * @example
 * selectProtocol(["v2.chat", "chat"], ["chat", "v2.chat"]); // "v2.chat"
 */
export function selectProtocol(offered: string[], supported: readonly string[]): string | null {
  for (const p of offered) if (supported.includes(p)) return p;
  return null;
}

/** What to put in the 101 response besides the mandatory fields. */
export interface AcceptOptions {
  /** The chosen subprotocol (must be one the client offered), or null/undefined for none. */
  protocol?: string | null;
  /** The `Sec-WebSocket-Extensions` response value (e.g. from `negotiateDeflate`), or null/undefined. */
  extensions?: string | null;
  /** Extra header fields, flat name/value list. */
  headers?: string[];
}

/**
 * The 101 Switching Protocols response head for a validated request.
 * Throws {@link WebSocketUsageError} if `protocol` was not offered by the
 * client (§4.2.2: the server must pick one of the client's values).
 *
 * @example
 * const head = acceptResponse(req, { protocol: "chat" });
 * // { status: 101, headers: ["Upgrade", "websocket", "Connection", "Upgrade",
 * //   "Sec-WebSocket-Accept", "...", "Sec-WebSocket-Protocol", "chat"] }
 */
export function acceptResponse(request: HandshakeRequest, options: AcceptOptions = {}): ResponseHead {
  const headers = [
    "Upgrade",
    "websocket",
    "Connection",
    "Upgrade",
    "Sec-WebSocket-Accept",
    acceptKey(request.key),
  ];
  const protocol = options.protocol;
  if (protocol != null) {
    if (!request.protocols.includes(protocol)) {
      throw new WebSocketUsageError(`subprotocol ${JSON.stringify(protocol)} was not offered by the client`);
    }
    headers.push("Sec-WebSocket-Protocol", protocol);
  }
  if (options.extensions != null && options.extensions !== "") {
    headers.push("Sec-WebSocket-Extensions", options.extensions);
  }
  if (options.headers !== undefined) {
    if (options.headers.length % 2 !== 0) throw new WebSocketUsageError("headers must be name/value pairs");
    for (const h of options.headers) headers.push(h);
  }
  return { status: 101, headers };
}
