/**
 * Shared by the canned reference servers: how many requests a read finished
 * (the "\r\n\r\n" that ends each GET head, found across read boundaries), and
 * that many canned responses as one buffer. Neither server parses anything
 * else: they exist to show the floor of Node's socket machinery and the kernel.
 */

/** The same 13-byte hello world the benchmark apps send. */
export const RESPONSE = Buffer.from(
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!",
  "latin1",
);

const BATCHES = Array.from({ length: 17 }, (_, n) => Buffer.concat(Array(n).fill(RESPONSE)));
const END = [13, 10, 13, 10];

/** The responses for `n` requests, as one buffer. */
export function responses(n: number): Buffer {
  return n < BATCHES.length ? BATCHES[n]! : Buffer.concat(Array(n).fill(RESPONSE));
}

/** Counts request heads ending in one connection's reads; `matched` carries a split "\r\n\r\n" over. */
export class HeadCounter {
  private matched = 0;

  /** Heads completed by `chunk` (bytes `start` to `end`). */
  count(chunk: Uint8Array, start = 0, end = chunk.length): number {
    let n = 0;
    let i = start;
    // Finish a terminator split over the previous read byte by byte.
    while (this.matched > 0 && i < end) {
      if (chunk[i] === END[this.matched]) {
        i++;
        if (++this.matched === 4) {
          n++;
          this.matched = 0;
        }
      } else {
        this.matched = 0;
      }
    }
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset + i, end - i);
    let at = 0;
    for (;;) {
      const found = buf.indexOf("\r\n\r\n", at, "latin1");
      if (found === -1) break;
      n++;
      at = found + 4;
    }
    // A terminator may begin in the last three bytes.
    const len = buf.length;
    for (let k = Math.min(3, len - at); k > 0; k--) {
      let ok = true;
      for (let j = 0; j < k; j++) if (buf[len - k + j] !== END[j]) ok = false;
      if (ok) {
        this.matched = k;
        break;
      }
    }
    return n;
  }
}
