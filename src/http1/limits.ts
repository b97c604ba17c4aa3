/**
 * Size limits the parser enforces. Every default is spelled out here with the
 * reason for it and its precedent in other servers, so operators can judge
 * what they change.
 */

/** Limits on what a client may send; all sizes are in bytes. */
export interface ParserLimits {
  /**
   * Longest request line (method, target, version; without CRLF). Over it → 414.
   * Default 8 KiB: nginx's `large_client_header_buffers` is 8k; gunicorn uses 4094,
   * which long query strings from real apps do exceed.
   */
  maxRequestLineSize: number;
  /**
   * Largest header section (all field lines after the request line, with their
   * CRLFs). Over it → 431. Default 16 KiB, the same as Node's `--max-http-header-size`.
   */
  maxHeaderSize: number;
  /** Most field lines in the header section (and, separately, in the trailers). Over it → 431. Default 100, as gunicorn. */
  maxHeaderCount: number;
  /**
   * Largest request body, counted after de-chunking. Over it → 413, also when a
   * chunked body crosses it midway. Default 10 MiB: the WSGI-style gateway holds
   * a body in memory, so some bound is needed; nginx's 1 MiB default is a
   * well-known source of surprise for uploads.
   */
  maxBodySize: number;
  /** Longest chunk-size line including chunk extensions. Over it → 400. Default 4 KiB; real clients send a few bytes. */
  maxChunkLineSize: number;
}

/** The defaults documented on {@link ParserLimits}. */
export const DEFAULT_LIMITS: Readonly<ParserLimits> = Object.freeze({
  maxRequestLineSize: 8 * 1024,
  maxHeaderSize: 16 * 1024,
  maxHeaderCount: 100,
  maxBodySize: 10 * 1024 * 1024,
  maxChunkLineSize: 4 * 1024,
});
