/**
 * The WebSocket protocol core (RFC 6455 and RFC 7692 permessage-deflate),
 * sans-IO: handshake validation, a frame-level state machine, and
 * compression. Import from `tsgi/websocket`.
 */

export {
  DEFAULT_COMPRESSION_THRESHOLD,
  DEFAULT_MAX_MESSAGE_SIZE,
  type FrameHeader,
  WebSocketCore,
  type WebSocketCoreOptions,
} from "./core.ts";
export {
  DEFAULT_DEFLATE_CONFIG,
  type DeflateConfig,
  type DeflateParams,
  negotiateDeflate,
  parseExtensions,
} from "./deflate.ts";
export {
  HandshakeError,
  type WebSocketErrorCode,
  WebSocketProtocolError,
  WebSocketUsageError,
} from "./errors.ts";
export {
  type BinaryMessage,
  type CloseReceived,
  type PingReceived,
  type PongReceived,
  type TextMessage,
  type WebSocketEvent,
  type WebSocketState,
  WS_NEED_DATA,
} from "./events.ts";
export {
  type AcceptOptions,
  acceptKey,
  acceptResponse,
  checkHandshake,
  type HandshakeRequest,
  selectProtocol,
} from "./handshake.ts";
