/** The WSGI-style gateway (PEP 3333 in TypeScript). Import from `tsgi/wsgi`. */

export { buildEnviron, decodePath, type EnvironFlags } from "./environ.ts";
export { WSGIGatewayError, type WSGIGatewayOptions, wsgiGateway } from "./gateway.ts";
export { BodyInput } from "./input.ts";
export type {
  Environ,
  StartResponse,
  WSGIApp,
  WSGIErrors,
  WSGIHeader,
  WSGIInput,
  WSGIResult,
  WSGIWrite,
} from "./types.ts";
export { validate, WSGIValidationError } from "./validate.ts";
