/**
 * Incremental UTF-8 validation for text messages that arrive in pieces.
 *
 * RFC 6455 §8.1 lets an endpoint fail as soon as it sees invalid UTF-8, and
 * Autobahn's 6.x cases check that we do (before the rest of the frame
 * arrives). The bulk of every piece goes through Node's native `isUtf8`; only
 * a sequence split across two pieces (at most 3 bytes each side) goes through
 * the small state machine here, which rejects a bad byte the moment it arrives.
 */

import { isUtf8 } from "node:buffer";

/** Validation state carried across the pieces of one message. */
export class Utf8Validator {
  /** Continuation bytes still expected by the sequence in progress. */
  private need = 0;
  /** Allowed range of the next continuation byte (narrower right after E0, ED, F0, F4: no overlongs, surrogates or > U+10FFFF). */
  private lo = 0x80;
  private hi = 0xbf;

  /** Forgets any sequence in progress (a new message). */
  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }

  /** True when no sequence is in progress: the message may end here. */
  get complete(): boolean {
    return this.need === 0;
  }

  /** Checks the next piece; false as soon as the bytes so far cannot be UTF-8. */
  feed(buf: Uint8Array): boolean {
    const n = buf.length;
    let i = 0;
    while (this.need > 0 && i < n) {
      const b = buf[i++]!;
      if (b < this.lo || b > this.hi) return false;
      this.lo = 0x80;
      this.hi = 0xbf;
      this.need--;
    }
    if (i === n) return true;
    // A sequence cut off by the end of the piece goes to the state machine;
    // everything before it to isUtf8.
    let cut = n;
    const stop = Math.max(i, n - 4);
    for (let j = n - 1; j >= stop; j--) {
      const b = buf[j]!;
      if ((b & 0xc0) !== 0x80) {
        const len = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        if (n - j < len) cut = j;
        break;
      }
    }
    if (cut > i && !isUtf8(i === 0 && cut === n ? buf : buf.subarray(i, cut))) return false;
    for (let j = cut; j < n; j++) if (!this.step(buf[j]!)) return false;
    return true;
  }

  private step(b: number): boolean {
    if (this.need > 0) {
      if (b < this.lo || b > this.hi) return false;
      this.lo = 0x80;
      this.hi = 0xbf;
      this.need--;
      return true;
    }
    if (b < 0x80) return true;
    if (b < 0xc2) return false; // continuation byte, or C0/C1 (overlong)
    if (b < 0xe0) {
      this.need = 1;
    } else if (b < 0xf0) {
      this.need = 2;
      if (b === 0xe0) this.lo = 0xa0;
      else if (b === 0xed) this.hi = 0x9f;
    } else if (b < 0xf5) {
      this.need = 3;
      if (b === 0xf0) this.lo = 0x90;
      else if (b === 0xf4) this.hi = 0x8f;
    } else {
      return false;
    }
    return true;
  }
}
