/**
 * Reads a PROXY protocol header off a fresh socket with the sans-IO parser
 * (src/server/proxy-protocol.ts), then puts back the bytes that followed it
 * so the HTTP connection (or the TLS handshake) reads them first.
 */

import type { Socket } from "node:net";
import type { ConnectionAddresses } from "./connection.ts";
import { NEED_MORE, ProxyPreambleParser, ProxyProtocolError } from "./proxy-protocol.ts";

/**
 * Calls `done` with the addresses the header gives (null for LOCAL and
 * UNKNOWN: keep the socket's) once it is read, with the socket paused and
 * the rest unshifted; or with an error, after destroying the socket, if the
 * header is invalid, the peer closes first, or `timeoutMs` passes (the
 * header timeout: a proxy sends it at once, a slowloris does not).
 */
export function readProxyHeader(
  socket: Socket,
  timeoutMs: number,
  done: (err: Error | null, addresses: ConnectionAddresses | null) => void,
): void {
  const parser = new ProxyPreambleParser();
  let settled = false;
  const finish = (err: Error | null, addresses: ConnectionAddresses | null) => {
    if (settled) return;
    settled = true;
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("error", onError);
    socket.setTimeout(0);
    if (err !== null) {
      socket.on("error", () => {}); // the peer may still reset; nothing listens any more
      socket.destroy();
    }
    done(err, addresses);
  };
  const onData = (chunk: Buffer) => {
    let result: ReturnType<ProxyPreambleParser["receiveData"]>;
    try {
      result = parser.receiveData(chunk);
    } catch (err) {
      finish(err as Error, null);
      return;
    }
    if (result === NEED_MORE) return;
    socket.pause();
    const rest = parser.rest;
    if (rest.length > 0) socket.unshift(rest);
    if (result.command === "local" || result.source === null || result.destination === null) {
      finish(null, null);
      return;
    }
    finish(null, {
      remoteAddress: result.source.address,
      remotePort: result.source.port,
      localAddress: result.destination.address,
      localPort: result.destination.port,
    });
  };
  const onEnd = () =>
    finish(new ProxyProtocolError("the peer closed before sending a PROXY protocol header"), null);
  const onError = (err: Error) => finish(err, null);
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("error", onError);
  if (timeoutMs > 0)
    socket.setTimeout(timeoutMs, () =>
      finish(new ProxyProtocolError("no PROXY protocol header within the header timeout"), null),
    );
}
