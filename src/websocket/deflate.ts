/**
 * permessage-deflate (RFC 7692): the negotiation of its parameters in the
 * opening handshake, and the per-connection compressor/decompressor the core
 * drives synchronously.
 *
 * zlib cannot write a raw deflate stream with an 8-bit window (it silently
 * uses 9), so an offer that demands `server_max_window_bits=8` is declined
 * rather than accepted and broken (RFC 7692 §7.1.2.1 allows declining).
 */

import { constants as bufferConstants } from "node:buffer";
import * as zlib from "node:zlib";
import { TsgiError } from "../http1/tsgi-error.ts";

const MAX_LENGTH = bufferConstants.MAX_LENGTH;

/** What the server is willing to do (RFC 7692 §7.1). */
export interface DeflateConfig {
  /** Reset our compressor after every message (costs ratio, saves the peer's memory). Default false. */
  serverNoContextTakeover: boolean;
  /** Ask the client to reset its compressor after every message. Default false. */
  clientNoContextTakeover: boolean;
  /** Largest LZ77 window we compress with, 9–15 (8 is impossible with zlib). Default 15. */
  serverMaxWindowBits: number;
  /**
   * Largest window we let the client compress with, 8–15. Below 15, offers
   * that do not allow the server to limit the client's window are declined.
   * Default 15.
   */
  clientMaxWindowBits: number;
  /**
   * Not used by the negotiation: the limit on inflated messages is the core's
   * `maxMessageSize`; kept so one object can describe a server's compression settings.
   */
  maxMessageSize?: number;
}

/** The parameters both sides agreed on; passed to `WebSocketCore` as `deflate`. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** The defaults: context takeover both ways, 15-bit windows (what browsers offer and ws accepts). */
export const DEFAULT_DEFLATE_CONFIG: Readonly<DeflateConfig> = Object.freeze({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
});

// ---- negotiation -------------------------------------------------------------

/** One element of a Sec-WebSocket-Extensions list: a name and its parameters (value null when absent). */
interface ExtensionOffer {
  name: string;
  params: [string, string | null][];
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

/**
 * Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1, list syntax of RFC
 * 9110 §5.6): `ext; param; param=value, ext2`. Values may be tokens or quoted
 * strings. Null when the header is malformed: then no element can be trusted.
 */
export function parseExtensions(header: string): ExtensionOffer[] | null {
  const out: ExtensionOffer[] = [];
  const n = header.length;
  let i = 0;
  const skipOWS = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
  };
  const token = (): string | null => {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(header);
    if (m === null) return null;
    i += m[0].length;
    return m[0];
  };
  const quoted = (): string | null => {
    let value = "";
    i++; // opening quote
    while (i < n) {
      const c = header[i]!;
      if (c === '"') {
        i++;
        return value;
      }
      if (c === "\\") {
        i++;
        if (i >= n) return null;
      }
      value += header[i]!;
      i++;
    }
    return null;
  };
  for (;;) {
    // Empty list elements (", ,") are allowed and skipped.
    skipOWS();
    while (i < n && header[i] === ",") {
      i++;
      skipOWS();
    }
    if (i >= n) return out;
    const name = token();
    if (name === null) return null;
    const params: [string, string | null][] = [];
    skipOWS();
    while (i < n && header[i] === ";") {
      i++;
      skipOWS();
      const pname = token();
      if (pname === null) return null;
      skipOWS();
      let value: string | null = null;
      if (header[i] === "=") {
        i++;
        skipOWS();
        value = header[i] === '"' ? quoted() : token();
        if (value === null) return null;
        skipOWS();
      }
      params.push([pname.toLowerCase(), value]);
    }
    out.push({ name: name.toLowerCase(), params });
    if (i >= n) return out;
    if (header[i] !== ",") return null;
  }
}

/** A window-bits value: 8–15 written without leading zeros (RFC 7692 §7.1.2.1). */
function parseBits(value: string): number | null {
  return /^(?:[89]|1[0-5])$/.test(value) ? Number(value) : null;
}

/** The response to one permessage-deflate offer, or null to decline it (§7.1: unknown, duplicate or invalid parameters). */
function acceptOffer(
  params: [string, string | null][],
  config: DeflateConfig,
): { params: DeflateParams; response: string } | null {
  const seen = new Set<string>();
  let serverNoContext = false;
  let clientNoContext = false;
  let serverBits: number | null = null;
  /** "any": client_max_window_bits without a value (the client merely supports the parameter). */
  let clientBits: number | "any" | null = null;
  for (const [name, value] of params) {
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
        if (value !== null) return null;
        serverNoContext = true;
        break;
      case "client_no_context_takeover":
        if (value !== null) return null;
        clientNoContext = true;
        break;
      case "server_max_window_bits": {
        if (value === null) return null;
        serverBits = parseBits(value);
        if (serverBits === null) return null;
        break;
      }
      case "client_max_window_bits": {
        if (value === null) {
          clientBits = "any";
        } else {
          clientBits = parseBits(value);
          if (clientBits === null) return null;
        }
        break;
      }
      default:
        return null;
    }
  }

  let ourBits = config.serverMaxWindowBits;
  if (serverBits !== null) {
    if (serverBits < 9) return null; // zlib would compress with 9; see the file header
    ourBits = Math.min(ourBits, serverBits);
  }
  let theirBits = 15;
  if (clientBits === null) {
    // §7.1.2.2: without the parameter in the offer we may not limit the client's window.
    if (config.clientMaxWindowBits < 15) return null;
  } else {
    theirBits = Math.min(config.clientMaxWindowBits, clientBits === "any" ? 15 : clientBits);
  }
  const agreed: DeflateParams = {
    serverNoContextTakeover: serverNoContext || config.serverNoContextTakeover,
    clientNoContextTakeover: clientNoContext || config.clientNoContextTakeover,
    serverMaxWindowBits: ourBits,
    clientMaxWindowBits: theirBits,
  };
  let response = "permessage-deflate";
  if (agreed.serverNoContextTakeover) response += "; server_no_context_takeover";
  if (agreed.clientNoContextTakeover) response += "; client_no_context_takeover";
  if (serverBits !== null || ourBits < 15) response += `; server_max_window_bits=${ourBits}`;
  if (clientBits !== null && theirBits < 15) response += `; client_max_window_bits=${theirBits}`;
  return { params: agreed, response };
}

/**
 * Picks the first of the client's permessage-deflate offers we can accept
 * (RFC 7692 §5.1: offers are in the client's order of preference) and returns
 * the agreed parameters with the `Sec-WebSocket-Extensions` response value;
 * null when there is no acceptable offer (or the header is malformed), in
 * which case the connection goes on without compression.
 *
 * @example
 * negotiateDeflate("permessage-deflate; client_max_window_bits", {});
 * // { params: { serverNoContextTakeover: false, ..., clientMaxWindowBits: 15 },
 * //   response: "permessage-deflate" }
 */
export function negotiateDeflate(
  extensionsHeader: string,
  config: Partial<DeflateConfig> = {},
): { params: DeflateParams; response: string } | null {
  const full: DeflateConfig = { ...DEFAULT_DEFLATE_CONFIG, ...config };
  if (
    !Number.isInteger(full.serverMaxWindowBits) ||
    full.serverMaxWindowBits < 9 ||
    full.serverMaxWindowBits > 15
  ) {
    throw new RangeError("serverMaxWindowBits must be 9 to 15 (zlib cannot deflate with 8)");
  }
  if (
    !Number.isInteger(full.clientMaxWindowBits) ||
    full.clientMaxWindowBits < 8 ||
    full.clientMaxWindowBits > 15
  ) {
    throw new RangeError("clientMaxWindowBits must be 8 to 15");
  }
  if (extensionsHeader === "") return null;
  const offers = parseExtensions(extensionsHeader);
  if (offers === null) return null;
  for (const offer of offers) {
    if (offer.name !== "permessage-deflate") continue;
    const accepted = acceptOffer(offer.params, full);
    if (accepted !== null) return accepted;
  }
  return null;
}

// ---- compression -------------------------------------------------------------

/** RFC 7692 §7.2.1: every compressed message ends with this empty stored block, removed on the wire. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Thrown by `decompress()` when the output passes the allowed size (the core answers 1009). */
export class InflateLimitError extends TsgiError {
  override readonly name = "InflateLimitError";
  readonly code = "TSGI_ERR_WS_MESSAGE_TOO_BIG";
  constructor(
    message: string,
    /** The output up to the limit: the core checks it as text before answering 1009. */
    readonly allowed: Buffer,
  ) {
    super(message);
  }
}

/** Thrown by `decompress()` on data zlib cannot inflate (the core answers 1007). */
export class InflateDataError extends TsgiError {
  override readonly name = "InflateDataError";
  readonly code = "TSGI_ERR_WS_BAD_COMPRESSION";
}

/** This Node.js lacks the zlib internals permessage-deflate drives (see `zlibSync`); the extension cannot run. */
export class DeflateUnavailableError extends TsgiError {
  override readonly name = "DeflateUnavailableError";
  readonly code = "TSGI_ERR_WS_DEFLATE_UNAVAILABLE";
}

/** The parts of a zlib stream object that `zlibSync` drives; see there. */
interface ZlibInternals {
  _handle: {
    writeSync(
      flush: number,
      input: Uint8Array,
      inOff: number,
      inLen: number,
      out: Uint8Array,
      outOff: number,
      outLen: number,
    ): void;
  } | null;
  /** [avail_out, avail_in] after the last write. */
  _writeState: Uint32Array;
}

/**
 * Output lands here first. Everything is synchronous, so one buffer serves
 * every stream in the process; results are copied out at their exact size.
 */
const SCRATCH_SIZE = 64 * 1024;
const scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);

/**
 * Runs `input` through a persistent zlib stream synchronously, with `flush`,
 * and returns all the output; throws {@link InflateLimitError} as soon as the
 * output passes `maxOutput`, {@link InflateDataError} on corrupt input.
 *
 * Why this reaches into zlib's internals: the core is a pure state machine
 * that returns bytes from each call, so (de)compression must be synchronous,
 * and context takeover (RFC 7692 §7.1.1) needs the LZ77 window to survive
 * from one message to the next. The documented sync API (`inflateRawSync`)
 * starts a fresh stream per call; the stream API is asynchronous (a
 * thread-pool hop per message); and `_processChunk()` without a callback,
 * which `*Sync` use, closes the handle when it returns (checked on Node 20.20
 * and 24.21). So we drive the stream's native handle the way
 * `processChunkSync` in Node's lib/zlib.js does: `_handle.writeSync()` plus
 * `_writeState`, both present since Node 10. `checkZlibInternals()` verifies
 * them when a {@link PerMessageDeflate} is built.
 */
function zlibSync(
  stream: zlib.InflateRaw | zlib.DeflateRaw,
  input: Uint8Array,
  flush: number,
  maxOutput: number,
): Buffer {
  const z = stream as unknown as ZlibInternals;
  const handle = z._handle;
  if (handle === null) throw new InflateDataError("zlib stream is closed");
  const state = z._writeState;
  const pieces: Buffer[] = [];
  let total = 0;
  let inOff = 0;
  let inLen = input.length;
  for (;;) {
    handle.writeSync(flush, input, inOff, inLen, scratch, 0, SCRATCH_SIZE);
    // A zlib error calls the stream's onerror, which destroys it synchronously.
    if (stream.destroyed) throw new InflateDataError("invalid compressed data");
    const availOut = state[0]!;
    const availIn = state[1]!;
    const have = SCRATCH_SIZE - availOut;
    if (have > 0) {
      total += have;
      if (total > maxOutput) {
        // What fits is kept for the caller: an error in those bytes (invalid
        // UTF-8) comes before the size error, however the input was split.
        pieces.push(Buffer.from(scratch.subarray(0, have - (total - maxOutput))));
        throw new InflateLimitError("inflated message over the limit", Buffer.concat(pieces));
      }
      pieces.push(Buffer.from(scratch.subarray(0, have)));
    }
    inOff += inLen - availIn;
    inLen = availIn;
    // Room left in the output means zlib consumed and flushed everything.
    if (availOut !== 0) break;
  }
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total);
}

function checkZlibInternals(stream: zlib.InflateRaw | zlib.DeflateRaw): void {
  const z = stream as unknown as Partial<ZlibInternals>;
  if (typeof z._handle?.writeSync !== "function" || !(z._writeState instanceof Uint32Array)) {
    throw new DeflateUnavailableError(
      "permessage-deflate needs zlib internals (_handle.writeSync, _writeState) this Node.js does not have",
    );
  }
}

function noop(): void {}

/**
 * One connection's compressor and decompressor (each created on first use:
 * an idle connection holds no zlib memory). Used by `WebSocketCore`.
 */
export class PerMessageDeflate {
  private deflater: zlib.DeflateRaw | null = null;
  private inflater: zlib.InflateRaw | null = null;
  private readonly sendBits: number;
  private readonly sendNoContext: boolean;
  private readonly receiveBits: number;
  private readonly receiveNoContext: boolean;

  /**
   * @param params the agreed parameters
   * @param client true when we are the client (we compress with the client's parameters)
   */
  constructor(params: DeflateParams, client: boolean) {
    this.sendBits = client ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    this.sendNoContext = client ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.receiveBits = client ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    this.receiveNoContext = client ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    // Fail at construction, not on the first compressed message.
    const probe = zlib.createInflateRaw();
    checkZlibInternals(probe);
    probe.close();
  }

  /** A whole message compressed, without the trailing 00 00 FF FF (RFC 7692 §7.2.1). */
  compress(data: Uint8Array): Buffer {
    if (this.deflater === null) {
      // zlib bumps windowBits 8 to 9 for raw deflate; negotiateDeflate never agrees to 8 for the server.
      this.deflater = zlib.createDeflateRaw({ windowBits: Math.max(9, this.sendBits) });
      this.deflater.on("error", noop);
    }
    const out = zlibSync(this.deflater, data, zlib.constants.Z_SYNC_FLUSH, MAX_LENGTH);
    if (this.sendNoContext) this.deflater.reset();
    return out.subarray(0, out.length - 4);
  }

  /**
   * Inflates the next piece of a compressed message's payload; `maxOutput`
   * is what the message may still grow by. Throws {@link InflateLimitError}
   * or {@link InflateDataError}.
   */
  decompress(piece: Uint8Array, maxOutput: number): Buffer {
    if (this.inflater === null) {
      // A window at least the peer's always decodes its stream; 9 is zlib's minimum for raw inflate.
      this.inflater = zlib.createInflateRaw({ windowBits: Math.max(9, this.receiveBits) });
      // Errors are reported by zlibSync; without a listener the deferred 'error' event would crash.
      this.inflater.on("error", noop);
    }
    return zlibSync(this.inflater, piece, zlib.constants.Z_SYNC_FLUSH, maxOutput);
  }

  /** Ends the message being inflated: feeds the removed tail and returns the last output. */
  finishMessage(maxOutput: number): Buffer {
    const out = this.decompress(TAIL, maxOutput);
    if (this.receiveNoContext) this.inflater!.reset();
    return out;
  }

  /** Closes the zlib streams. */
  dispose(): void {
    this.deflater?.close();
    this.inflater?.close();
    this.deflater = this.inflater = null;
  }
}
