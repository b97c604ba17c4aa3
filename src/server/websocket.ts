/**
 * Drives one sans-IO `WebSocketCore` over the socket an HTTP connection
 * handed over after its `101 Switching Protocols`: feeds it the bytes read,
 * writes the frames it returns, and owns everything with a clock or a socket
 * in it: read flow control, the send-buffer cap, the closing handshake's
 * timeout and the optional ping heartbeat. Gateways (Fetch's WebSocket
 * object, the ASGI-style websocket scope) adapt this session; they never
 * touch the socket.
 */

import type { Socket } from "node:net";
import type { WebSocketCore } from "../websocket/core.ts";
import { WebSocketProtocolError } from "../websocket/errors.ts";
import { type TextMessage, WS_NEED_DATA } from "../websocket/events.ts";
import type { Expirable } from "./clock.ts";
import type { ConnectionInfo } from "./connection-info.ts";
import type { Logger } from "./log.ts";
import type { ServerOptions } from "./options.ts";
import { type ChunkListener, redirectSharedReads } from "./socket-reads.ts";
import { describeFrame, type Tracer } from "./trace.ts";

/** What a session needs from its server. */
export interface WebSocketHost {
  readonly options: ServerOptions;
  readonly logger: Logger;
  /** The `--trace` writer, or null when tracing is off. */
  readonly tracer: Tracer | null;
  sessionClosed(session: WebSocketSession): void;
}

/** How a gateway accepts a WebSocket handshake. */
export interface WebSocketAccept {
  /** The subprotocol chosen from those the client offered; null or absent for none. */
  protocol?: string | null;
  /** Extra fields for the 101 response (flat name/value list), e.g. Set-Cookie. */
  headers?: string[];
}

/** Receives what arrives on an accepted WebSocket. */
export interface WebSocketHandler {
  /**
   * A complete message: text as the core's {@link TextMessage} (its string
   * is decoded only when `data` is read, so a gateway can hand it on
   * undecoded), binary as bytes the handler may keep.
   */
  message(data: TextMessage | Uint8Array): void;
  /**
   * The connection is over; called exactly once. `wasClean` is true when both
   * close frames were exchanged. `code` is the peer's close code (1005 when
   * its close frame had none), the code we failed the connection with, or
   * 1006 when the connection ended without a closing handshake.
   */
  closed(code: number, reason: string, wasClean: boolean): void;
}

/** `readyState` values, as in the WHATWG WebSocket interface. */
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** Closing code for a peer that did not answer our pings (RFC 6455 §7.4.1: 1011 unexpected condition). */
const PING_TIMEOUT_CODE = 1011;
/** Close code on server shutdown (RFC 6455 §7.4.1). */
const GOING_AWAY = 1001;
const ABNORMAL = 1006;

const SESSION = Symbol("tsgi.websocketSession");
type SessionSocket = Socket & { [SESSION]: WebSocketSession };

function socketOnData(this: SessionSocket, chunk: Buffer): void {
  this[SESSION].onData(chunk);
}
function socketOnEnd(this: SessionSocket): void {
  this[SESSION].onEnd();
}
function socketOnDrain(this: SessionSocket): void {
  this[SESSION].onSocketDrain();
}
function socketOnError(this: SessionSocket, err: NodeJS.ErrnoException): void {
  this[SESSION].onSocketError(err);
}
function socketOnClose(this: SessionSocket): void {
  this[SESSION].onClose();
}
function flushSession(session: WebSocketSession): void {
  session.flush();
}

/** One accepted WebSocket connection. */
export class WebSocketSession implements Expirable {
  /** Epoch ms at which {@link expire} runs; 0 for none. Checked by the server's clock. */
  deadline = 0;
  /** The subprotocol agreed in the handshake ("" for none). */
  readonly protocol: string;
  /** The extensions agreed in the handshake ("" for none). */
  readonly extensions: string;

  private handler: WebSocketHandler | null = null;
  private state: typeof OPEN | typeof CLOSING | typeof CLOSED = OPEN;
  private paused = false;
  private readingPaused = false;
  private pumping = false;
  /** The socket is corked to gather this turn's frames into one write; see {@link gather}. */
  private corked = false;
  /**
   * A protocol error waiting for the app's turn: the close code and reason
   * the connection fails with at the next `setImmediate`. Meanwhile nothing
   * more is read and the app may still send (see {@link protocolError}).
   */
  private failing: { code: number; reason: string } | null = null;
  private drainCallbacks: (() => void)[] | null = null;
  /** When the pending close handshake, ping or blocked send gives up (epoch ms, 0 = none). */
  private closeDue = 0;
  private pingDue = 0;
  private pongDue = 0;
  private sendDue = 0;
  /** Close code and reason to report once the socket is gone, if no clean close happened first. */
  private endCode = ABNORMAL;
  private endReason = "";
  private endClean = false;
  private readonly tracer: Tracer | null;

  constructor(
    private readonly socket: Socket,
    private readonly core: WebSocketCore,
    private readonly host: WebSocketHost,
    /** The connection the WebSocket runs on. */
    readonly info: ConnectionInfo,
    agreed: { protocol: string; extensions: string },
    trailing: Uint8Array,
    /** The connection's number in the trace (kept from its HTTP life). */
    private readonly traceId = 0,
  ) {
    this.tracer = host.tracer;
    this.protocol = agreed.protocol;
    this.extensions = agreed.extensions;
    if (trailing.length > 0) core.receiveData(trailing);
    // Nothing is delivered before a handler is set: hold the bytes in the socket.
    this.pauseReading();
    // Shared listener functions that find the session through the socket:
    // five closures per connection would be a good part of an idle one's memory.
    (socket as SessionSocket)[SESSION] = this;
    // A socket the HTTP connection read into the server's shared buffer keeps being read so.
    if (!redirectSharedReads(socket, socketOnData as ChunkListener)) socket.on("data", socketOnData);
    socket.on("end", socketOnEnd);
    socket.on("drain", socketOnDrain);
    socket.on("error", socketOnError);
    socket.on("close", socketOnClose);
    this.schedulePing();
  }

  /** OPEN (1), CLOSING (2) or CLOSED (3), as in the WHATWG interface. */
  get readyState(): 1 | 2 | 3 {
    return this.state;
  }

  /** Bytes accepted by {@link send} and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Starts delivering messages to `handler` (the bytes that arrived meanwhile come first). */
  setHandler(handler: WebSocketHandler): void {
    this.handler = handler;
    if (this.state === CLOSED) {
      this.notifyClosed();
      return;
    }
    this.pump();
  }

  /** Stops delivering messages (the socket stops being read once its buffer fills). */
  pause(): void {
    this.paused = true;
  }

  /** Resumes delivering messages. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pump();
  }

  /**
   * Sends a message (text for a string). Returns false once the bytes waiting
   * to be sent pass the socket's high-water mark: wait for {@link onDrain}.
   * Sends after the close started are dropped (the WHATWG rule). Past
   * `wsMaxBufferedBytes` waiting, the peer is taken as not reading and the
   * connection is dropped.
   */
  send(data: string | Uint8Array): boolean {
    if (this.state !== OPEN) return false;
    const frames = typeof data === "string" ? this.core.sendText(data) : this.core.sendBinary(data);
    if (this.tracer !== null) this.traceMessage("send", data, frames);
    return this.writeFrames(frames);
  }

  /** Sends a ping (at most 125 bytes of payload). */
  ping(data?: Uint8Array): void {
    if (this.state !== OPEN) return;
    this.gather();
    this.socket.write(this.core.sendPing(data));
  }

  /** Calls `callback` once the socket has flushed what was sent (at once if nothing waits). */
  onDrain(callback: () => void): void {
    if (!this.socket.writableNeedDrain || this.state === CLOSED) {
      queueMicrotask(callback);
      return;
    }
    if (this.drainCallbacks === null) this.drainCallbacks = [];
    this.drainCallbacks.push(callback);
  }

  /**
   * Starts the closing handshake: sends a close frame (no code: an empty
   * one, which the peer reads as 1005) and waits up to `wsCloseTimeout` for
   * the peer's. Does nothing once closing.
   * @throws WebSocketUsageError for an invalid code or a reason over 123 bytes.
   */
  close(code?: number, reason?: string): void {
    if (this.state !== OPEN) return;
    const frame = this.core.sendClose(code, reason);
    this.state = CLOSING;
    if (this.tracer !== null)
      this.trace(`send close ${code ?? "(no code)"} ${reason ?? ""}: waiting for the peer's close`);
    // Until the peer's close frame arrives, the close is not clean: 1006 stands.
    this.gather();
    this.socket.write(frame);
    this.closeDue = this.after(this.host.options.wsCloseTimeout);
    this.pingDue = this.pongDue = 0;
    this.updateDeadline();
    // The peer's close frame must be read even if the app paused delivery.
    this.pump();
  }

  /** Part of a graceful server shutdown: close with 1001 Going Away. */
  shutdown(): void {
    this.close(GOING_AWAY, "server shutting down");
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.flush(); // what was sent before goes out first, as it did uncorked
    this.socket.destroy();
  }

  /** Called by the server's clock when {@link deadline} passed. */
  expire(now: number): void {
    if (this.state === CLOSED) return;
    if ((this.closeDue !== 0 && this.closeDue <= now) || (this.sendDue !== 0 && this.sendDue <= now)) {
      // The peer neither answered our close nor read what we sent: stop waiting.
      this.socket.destroy();
      return;
    }
    if (this.pongDue !== 0 && this.pongDue <= now) {
      this.pongDue = 0;
      this.fail(PING_TIMEOUT_CODE, "ping timeout");
      return;
    }
    if (this.pingDue !== 0 && this.pingDue <= now) {
      this.pingDue = 0;
      if (this.tracer !== null) this.trace("send ping (heartbeat)");
      this.socket.write(this.core.sendPing());
      this.pongDue = this.after(this.host.options.wsPingTimeout);
    }
    this.updateDeadline();
  }

  // ---- socket events ------------------------------------------------------

  /** @internal */
  onData(chunk: Buffer): void {
    if (this.tracer !== null) this.trace(`read ${chunk.length} bytes`);
    if (this.state === CLOSED) return;
    this.core.receiveData(chunk);
    this.pump();
  }

  /** @internal */
  onEnd(): void {
    // The peer closed TCP without (or after) the closing handshake.
    this.state = CLOSED;
    this.socket.end();
  }

  /** @internal */
  onSocketDrain(): void {
    this.sendDue = 0;
    this.updateDeadline();
    const callbacks = this.drainCallbacks;
    this.drainCallbacks = null;
    if (callbacks !== null) for (const callback of callbacks) callback();
  }

  /** @internal */
  onSocketError(err: NodeJS.ErrnoException): void {
    const quiet = err.code === "ECONNRESET" || err.code === "EPIPE" || err.code === "ETIMEDOUT";
    this.host.logger.log(
      quiet ? "debug" : "warning",
      `websocket ${this.info.remoteAddress}:${this.info.remotePort}: ${err.message}`,
    );
  }

  /** @internal */
  onClose(): void {
    if (this.tracer !== null) {
      this.trace(
        `closed: code ${this.endCode}${this.endReason ? ` (${this.endReason})` : ""}, ${this.endClean ? "clean" : "not clean"}`,
      );
    }
    this.state = CLOSED;
    this.deadline = 0;
    this.core.dispose();
    this.host.sessionClosed(this);
    if (this.handler !== null) this.notifyClosed();
    const callbacks = this.drainCallbacks;
    this.drainCallbacks = null;
    if (callbacks !== null) for (const callback of callbacks) callback();
  }

  private notifyClosed(): void {
    const handler = this.handler;
    if (handler === null) return;
    this.handler = null;
    try {
      handler.closed(this.endCode, this.endReason, this.endClean);
    } catch (err) {
      this.host.logger.error("error in a WebSocket close handler", err);
    }
  }

  // ---- the receive loop ---------------------------------------------------

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.pumpEvents();
    } finally {
      this.pumping = false;
    }
    this.updateReading();
  }

  private pumpEvents(): void {
    const core = this.core;
    for (;;) {
      const handler = this.handler;
      if (this.socket.destroyed || this.failing !== null) return;
      // While closing, keep reading: the peer's close frame ends the handshake.
      if (this.state === OPEN && (handler === null || this.paused)) return;
      let event: ReturnType<WebSocketCore["nextEvent"]>;
      try {
        event = core.nextEvent();
      } catch (err) {
        if (!(err instanceof WebSocketProtocolError)) throw err;
        this.host.logger.debug(`websocket protocol error from ${this.info.remoteAddress}: ${err.message}`);
        if (this.tracer !== null)
          this.trace(`protocol error ${err.code}: failing with close code ${err.closeCode}`);
        this.protocolError(err.closeCode, err.message);
        return;
      }
      if (event === WS_NEED_DATA) return;
      if (this.tracer !== null) this.traceEvent(event);
      switch (event.type) {
        case "text":
        case "binary":
          // Messages that arrive after we started closing are dropped (RFC 6455 §5.5.1).
          if (this.state === OPEN && handler !== null)
            this.deliver(handler, event.type === "text" ? event : event.data);
          break;
        case "ping":
          if (event.reply !== null) {
            this.gather();
            this.socket.write(event.reply);
          }
          break;
        case "pong":
          if (this.pongDue !== 0) {
            this.pongDue = 0;
            this.schedulePing();
          }
          break;
        case "close":
          this.endCode = event.code;
          this.endReason = event.reason;
          this.endClean = true;
          this.state = CLOSED;
          // The server closes TCP first (RFC 6455 §7.1.1), once the echo is flushed.
          if (event.reply !== null) this.socket.end(event.reply);
          else this.socket.end();
          return;
      }
    }
  }

  private deliver(handler: WebSocketHandler, data: TextMessage | Uint8Array): void {
    try {
      handler.message(data);
    } catch (err) {
      this.host.logger.error("error in a WebSocket message handler", err);
      this.fail(1011, "internal error");
    }
  }

  /**
   * The peer broke the protocol: fail the connection (§7.1.7), but after the
   * app's turn. Messages delivered before the error may have an answer on
   * its way that the app sends from a promise continuation (the ASGI-style
   * gateway's receive() resolves in a microtask); the Fetch gateway's
   * onmessage answers synchronously, before this runs. `setImmediate` comes
   * after every pending microtask, so an answer sent at once goes out ahead
   * of the close frame on both gateways. The core already drops what the
   * peer sends after the error, and reading stops meanwhile.
   */
  private protocolError(code: number, reason: string): void {
    if (this.failing !== null || this.state === CLOSED) return;
    this.failing = { code, reason };
    this.pauseReading();
    setImmediate(() => {
      this.failing = null;
      this.fail(code, reason);
      // Read on (the core drops it) so the peer's FIN or reset ends the socket.
      this.updateReading();
    });
  }

  /** Fails the connection: a close frame with `code`, then close without waiting for the peer's. */
  private fail(code: number, reason: string): void {
    if (this.state === CLOSED) return;
    const wasOpen = this.state === OPEN;
    this.state = CLOSED;
    this.endCode = code;
    this.endReason = reason;
    this.endClean = false;
    if (wasOpen) {
      let frame: Uint8Array | null = null;
      try {
        frame = this.core.sendClose(code, reason.length <= 123 ? reason : "");
      } catch {
        // The core refuses a second close frame; closing the socket is all that is left.
      }
      if (frame !== null) {
        this.socket.end(frame);
        this.closeDue = this.after(this.host.options.wsCloseTimeout);
        this.updateDeadline();
        return;
      }
    }
    this.socket.end();
  }

  // ---- sending and flow control -------------------------------------------

  /**
   * Gathers the frames sent in this event-loop turn (the answers to one
   * read, whether the app sends them at once or from a promise continuation)
   * into one socket write: corked at the first, uncorked by
   * `process.nextTick`, which runs after the current callback and its
   * microtasks (as HttpConnection does for responses).
   */
  private gather(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(flushSession, this);
  }

  /** @internal Hands the gathered frames to the socket (a no-op when nothing is corked). */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  private writeFrames(frames: Uint8Array[]): boolean {
    const socket = this.socket;
    // Past the high-water mark the gathered bytes go to the kernel now: the
    // limit below is about what the peer has not read, not what we held back.
    if (this.corked && socket.writableNeedDrain) this.flush();
    // The limit applies to what is still waiting from earlier sends: a peer
    // that has not read that much is taken as not reading. The message being
    // sent is not counted, so one message larger than the limit (a 16 MiB
    // echo with both limits at their 16 MiB defaults) still goes out; what
    // waits is at most the limit plus one message.
    const limit = this.host.options.wsMaxBufferedBytes;
    // writableNeedDrain first: false (the usual case) means under the socket's high-water mark
    // (16 KiB), nothing to check; a limit below that acts as the high-water mark.
    if (limit > 0 && socket.writableNeedDrain && socket.writableLength > limit) {
      this.host.logger.debug(
        `websocket ${this.info.remoteAddress}:${this.info.remotePort}: over ${limit} bytes unsent, dropping`,
      );
      this.endReason = "send buffer limit";
      socket.destroy();
      return false;
    }
    this.gather();
    for (const frame of frames) socket.write(frame);
    if (!socket.writableNeedDrain) return true;
    this.flush();
    if (this.sendDue === 0) {
      this.sendDue = this.after(this.host.options.sendTimeout);
      this.updateDeadline();
    }
    return false;
  }

  /**
   * Reads from the socket while the app takes messages. Flow control bounds
   * what the app has not consumed: input the core has not parsed because
   * nobody asked for events (no handler yet, or the app paused delivery),
   * at most `maxBufferedBytes` plus one read. A message still arriving is
   * not counted: the pump takes its payload in as it comes, only more
   * reading can complete it (waiting on it deadlocked messages over 64 KiB,
   * issue 12), and the core bounds it by `wsMaxMessageSize` (1009 past it).
   */
  private updateReading(): void {
    if (this.socket.destroyed || this.failing !== null) return;
    const want =
      this.state !== OPEN ||
      (this.handler !== null && !this.paused && this.core.unparsedBytes < this.host.options.maxBufferedBytes);
    if (want && this.readingPaused) {
      this.readingPaused = false;
      this.socket.resume();
    } else if (!want && !this.readingPaused) {
      this.pauseReading();
    }
  }

  private pauseReading(): void {
    this.readingPaused = true;
    this.socket.pause();
  }

  // ---- trace (only called when --trace is on) -----------------------------

  private trace(detail: string): void {
    this.tracer!.step(this.traceId, "ws", detail);
  }

  private traceMessage(direction: string, data: string | Uint8Array, frames: Uint8Array[]): void {
    const kind = typeof data === "string" ? "text" : "binary";
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    this.trace(`${direction} ${kind} message, ${size} bytes`);
    // The frame header we wrote, read back: what went on the wire.
    const h = frames[0]!;
    const len7 = h[1]! & 0x7f;
    let wire = 0;
    for (const f of frames) wire += f.length;
    const length = len7 < 126 ? len7 : wire - (len7 === 126 ? 4 : 10);
    this.trace(
      describeFrame("send", {
        opcode: h[0]! & 0x0f,
        fin: (h[0]! & 0x80) !== 0,
        compressed: (h[0]! & 0x40) !== 0,
        masked: false,
        length,
      }),
    );
  }

  private traceEvent(event: Exclude<ReturnType<WebSocketCore["nextEvent"]>, typeof WS_NEED_DATA>): void {
    switch (event.type) {
      case "text":
        this.trace(`recv text message, ${event.bytes.length} bytes (unmasked, UTF-8 checked)`);
        break;
      case "binary":
        this.trace(`recv binary message, ${event.data.length} bytes (unmasked)`);
        break;
      case "ping":
        this.trace(
          `recv ping (${event.data.length} bytes)${event.reply === null ? "" : ": answering with a pong"}`,
        );
        break;
      case "pong":
        this.trace(`recv pong (${event.data.length} bytes)`);
        break;
      case "close":
        this.trace(
          `recv close ${event.code} ${event.reason}${event.reply === null ? ": handshake complete" : ": echoing it, then closing TCP"}`,
        );
        break;
    }
  }

  // ---- timers -------------------------------------------------------------

  private schedulePing(): void {
    const interval = this.host.options.wsPingInterval;
    this.pingDue = interval > 0 && this.state === OPEN ? Date.now() + interval : 0;
    this.updateDeadline();
  }

  private after(ms: number): number {
    return ms > 0 ? Date.now() + ms : 0;
  }

  private updateDeadline(): void {
    let next = 0;
    for (const due of [this.closeDue, this.sendDue, this.pongDue, this.pingDue]) {
      if (due !== 0 && (next === 0 || due < next)) next = due;
    }
    this.deadline = next;
  }
}
