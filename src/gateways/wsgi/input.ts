/**
 * `wsgi.input` over a body the gateway has already read whole. On the event
 * loop a synchronous read cannot wait for the network, so the body is
 * collected first (bounded by `maxBodySize`); reads are then plain copies.
 */

import type { WSGIInput } from "./types.ts";

const EMPTY = new Uint8Array(0);
const LF = 0x0a;

/** A synchronous, file-like reader over the request body. */
export class BodyInput implements WSGIInput {
  private pos = 0;

  constructor(private readonly body: Uint8Array) {}

  read(size?: number | null): Uint8Array {
    const available = this.body.length - this.pos;
    const n = size === undefined || size === null || size < 0 ? available : Math.min(size, available);
    if (n === 0) return EMPTY;
    const out = this.body.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  readline(size?: number | null): Uint8Array {
    const lf = this.body.indexOf(LF, this.pos);
    let n = (lf === -1 ? this.body.length : lf + 1) - this.pos;
    if (size !== undefined && size !== null && size >= 0 && size < n) n = size;
    return this.read(n);
  }

  readlines(hint?: number | null): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const line = this.readline();
      if (line.length === 0) return lines;
      lines.push(line);
      total += line.length;
      if (hint !== undefined && hint !== null && hint > 0 && total >= hint) return lines;
    }
  }

  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (;;) {
      const line = this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }
}
