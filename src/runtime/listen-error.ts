/**
 * One-line explanations of the system errors `listen()` fails with.
 */

/** The message for a failed bind of `host:port`. */
export function describeListenError(err: NodeJS.ErrnoException, host: string, port: number): string {
  // The server's BindError already names the address that failed (one of
  // several with --bind) and why.
  if (err.code === "TSGI_ERR_BIND" || err.code === "TSGI_ERR_TLS_CONFIG") return err.message;
  switch (err.code) {
    case "EADDRINUSE":
      return `cannot listen on ${host}:${port}: address already in use`;
    case "EACCES":
      return `cannot listen on ${host}:${port}: permission denied`;
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
      return `cannot listen on ${host}:${port}: address not available on this machine`;
    default:
      return `cannot listen on ${host}:${port}: ${err.message}`;
  }
}
