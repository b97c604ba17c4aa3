/**
 * The HTTP/1.1 protocol core: a sans-IO request parser, response serializer
 * and connection state machine. Import from `tsgi/http1`.
 */

export { ServerConnection, type ServerConnectionOptions } from "./connection.ts";
export { LocalProtocolError, ProtocolError, type ProtocolErrorCode, RemoteProtocolError } from "./errors.ts";
export {
  type BodyData,
  type BodyFraming,
  type ConnectionClosed,
  type EndOfMessage,
  NEED_DATA,
  PAUSED,
  type RequestHead,
  type ResponseHead,
  type ServerEvent,
} from "./events.ts";
export { DEFAULT_LIMITS, type ParserLimits } from "./limits.ts";
export { RequestParser } from "./parser.ts";
export { CLIENT_TABLE, SERVER_TABLE, type State, type Transition } from "./states.ts";
export { STATUS_REASONS } from "./status.ts";
export { InternalError, TsgiError } from "./tsgi-error.ts";
