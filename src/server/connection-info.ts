/**
 * What is known of the connection a request arrived on. A type of its own so
 * that the access log, the exchange and the WebSocket session can all name it
 * without importing one another.
 */

/** Facts about the connection an exchange arrived on. */
export interface ConnectionInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /**
   * Whether the client's connection is TLS: this socket's, or, behind a
   * trusted proxy with `proxyHeaders`, the one the proxy says it received.
   */
  readonly tls: boolean;
}
