/**
 * TLS settings (`--ssl-certfile`, `--ssl-keyfile`, `--ssl-keyfile-password`,
 * `--ssl-ca-certs`) turned into a `node:tls` server. Files are read when the
 * server starts, so a bad path or a key that does not match its certificate
 * fails before anything listens, with one line that names the file.
 */

import { readFileSync } from "node:fs";
import {
  createSecureContext,
  createServer,
  type TlsOptions as NodeTlsOptions,
  type Server as TlsServer,
} from "node:tls";
import { TsgiError } from "../http1/tsgi-error.ts";

/** The TLS files or contents could not be used; the server does not start. */
export class TlsConfigError extends TsgiError {
  override readonly name = "TlsConfigError";
  readonly code = "TSGI_ERR_TLS_CONFIG";
}

/**
 * How to serve TLS. Give each PEM either as contents (`cert`, `key`, `ca`)
 * or as a path (`certFile`, ...); the command line uses paths, so each
 * `--workers` process reads the files itself.
 */
export interface TlsOptions {
  /** Certificate chain, PEM: the server's certificate first, then intermediates. */
  cert?: string | Buffer;
  certFile?: string;
  /** Private key, PEM. */
  key?: string | Buffer;
  keyFile?: string;
  /** Passphrase of an encrypted private key. */
  passphrase?: string;
  /**
   * CA certificates, PEM. When given, clients must present a certificate
   * signed by one of them (mutual TLS); the handshake fails otherwise.
   */
  ca?: string | Buffer;
  caFile?: string;
}

/**
 * ALPN (RFC 7301): we speak HTTP/1.1 only. Announcing it lets a client that
 * offers h2 settle on HTTP/1.1 during the handshake instead of guessing.
 */
const ALPN = ["http/1.1"];

function pem(
  contents: string | Buffer | undefined,
  file: string | undefined,
  what: string,
): string | Buffer | undefined {
  if (contents !== undefined) return contents;
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new TlsConfigError(`cannot read the ${what} ${file}: ${reason}`, { cause: err });
  }
}

/**
 * Checks `options` and returns a TLS server that is never listened on: the
 * listeners accept plain sockets (so a PROXY preamble can be read first) and
 * hand them to it with `emit("connection", socket)`, which wraps them.
 * `handshakeTimeoutMs` bounds the handshake as the header timeout bounds a
 * request head; Node's default is 120 s, long enough for a slowloris.
 */
export function createTlsServer(options: TlsOptions, handshakeTimeoutMs: number): TlsServer {
  const cert = pem(options.cert, options.certFile, "certificate (--ssl-certfile)");
  const key = pem(options.key, options.keyFile, "private key (--ssl-keyfile)");
  const ca = pem(options.ca, options.caFile, "CA certificates (--ssl-ca-certs)");
  if (cert === undefined || key === undefined)
    throw new TlsConfigError(
      "TLS needs both a certificate (--ssl-certfile) and a private key (--ssl-keyfile)",
    );
  const settings: NodeTlsOptions = {
    cert,
    key,
    ALPNProtocols: ALPN,
    handshakeTimeout: handshakeTimeoutMs > 0 ? handshakeTimeoutMs : 120_000,
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: true }),
  };
  try {
    // Builds the context once here to turn OpenSSL's errors (no PEM, wrong
    // passphrase, key not matching the certificate) into one clear line.
    createSecureContext(settings);
  } catch (err) {
    throw new TlsConfigError(`cannot use the TLS certificate and key: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return createServer(settings);
}
