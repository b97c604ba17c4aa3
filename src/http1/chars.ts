/**
 * Byte classes from RFC 9110 §5.6.2 and RFC 3986, as 256-entry lookup tables
 * so the parser validates a byte with one array load instead of a comparison
 * chain; the byte constants, latin-1 decoding and the SP/HTAB-only whitespace
 * helpers. Imports nothing: the bottom of src/http1/.
 */

// Built with fill() and a short loop rather than a predicate called for each of
// the 256 bytes: four such loops at startup were enough for Node 24 to compile
// them with Maglev (on-stack replacement), work and memory for nothing
// (docs/performance.md, "Idle memory").

/** A 256-entry table: 1 for every byte in the inclusive ranges and every character of `also`. */
function table(ranges: ReadonlyArray<readonly [number, number]>, also = ""): Uint8Array {
  const t = new Uint8Array(256);
  for (const [from, to] of ranges) t.fill(1, from, to + 1);
  for (let i = 0; i < also.length; i++) t[also.charCodeAt(i)] = 1;
  return t;
}

/** DIGIT, ALPHA (RFC 5234 B.1). */
const ALNUM = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x61, 0x7a],
] as const;

/** `tchar` (RFC 9110 §5.6.2): the characters of a token (methods, field names, codings). */
export const TCHAR = table(ALNUM, "!#$%&'*+-.^_`|~");

/**
 * Bytes allowed inside a field value (RFC 9110 §5.5): VCHAR, obs-text, SP and
 * HTAB. Everything else (NUL, CR, LF, other CTLs, DEL) is refused.
 */
export const FIELD_VALUE_CHAR = table([
  [0x09, 0x09],
  [0x20, 0x7e],
  [0x80, 0xff],
]);

/**
 * Bytes allowed in a request-target: the visible ASCII characters (RFC 3986
 * URIs are ASCII; a raw space, CTL or byte >= 0x80 is refused, like llhttp's
 * strict mode does).
 */
export const TARGET_CHAR = table([[0x21, 0x7e]]);

/**
 * Bytes allowed in a Host value (RFC 9110 §7.2, RFC 3986 §3.2.2): unreserved,
 * pct-encoded, sub-delims, ":" for the port and "[" "]" around IP literals.
 */
export const HOST_CHAR = table(ALNUM, "-._~%!$&'()*+,;=:[]");

/** Value of a hexadecimal digit, or -1. */
export function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };
/**
 * Bytes → string, one char per byte (the latin-1 reading every header string
 * in this core uses). Node's `latin1Slice` skips the argument checks of
 * `toString("latin1", ...)`, which showed up in profiles; it has been on
 * Buffer.prototype since Node 0.x, and the fallback keeps us safe.
 */
export const latin1: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as Partial<Latin1Buffer>).latin1Slice === "function"
    ? (buf, start, end) => (buf as Latin1Buffer).latin1Slice(start, end)
    : (buf, start, end) => buf.toString("latin1", start, end);

/**
 * True when `known` holds exactly the bytes `buf[start..end)` read as
 * latin-1: lets a parser reuse a string decoded before instead of decoding
 * the same bytes again. The strings remembered that way may come from
 * another client (the last Cookie or Authorization value seen), so once the
 * lengths agree every byte is compared, whatever the first difference: the
 * time taken tells nothing about how much of a guess matched.
 */
export function sameBytes(known: string, buf: Buffer, start: number, end: number): boolean {
  if (known.length !== end - start) return false;
  let diff = 0;
  for (let k = 0; start + k < end; k++) diff |= known.charCodeAt(k) ^ buf[start + k]!;
  return diff === 0;
}

/**
 * True when `s[start..end)` is `lower` in any ASCII letter case: what
 * `s.slice(start, end).toLowerCase() === lower` answers, without allocating
 * two strings. `lower` is lower-case ASCII; `s` is a latin-1 string, and no
 * latin-1 character outside ASCII lower-cases to an ASCII one, so folding
 * A-Z alone gives the same answer.
 */
export function equalsLowerAt(s: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let k = 0; start + k < end; k++) {
    let c = s.charCodeAt(start + k);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** `s.toLowerCase() === lower` without allocating (see {@link equalsLowerAt}). */
export function equalsLower(s: string, lower: string): boolean {
  return equalsLowerAt(s, 0, s.length, lower);
}

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

/**
 * OWS (RFC 9110 §5.6.3): SP or HTAB, and nothing else. JavaScript's `trim()`,
 * `trimStart()`, `trimEnd()` and the regex class `\s` also remove U+00A0 (the
 * byte 0xA0 read as latin-1) and other Unicode spaces; a proxy in front of us
 * does not, so `Transfer-Encoding: \xa0chunked` would be chunked for us and an
 * unknown coding for it (request smuggling). Use these helpers instead on
 * every protocol path.
 */
export function isOWS(c: number): boolean {
  return c === SP || c === HTAB;
}

/** `s` without leading and trailing SP/HTAB (RFC 9110 §5.6.3); every other character is kept. */
export function trimOWS(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isOWS(s.charCodeAt(start))) start++;
  while (end > start && isOWS(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * The elements of a `#list` field value (RFC 9110 §5.6.1): split on ",",
 * trimmed of OWS only, empty elements dropped (the RFC lets a recipient
 * ignore them). Quoted strings are not special: for the lists of tokens this
 * is used on (Connection, Upgrade, Expect, Sec-WebSocket-Protocol,
 * X-Forwarded-*) a comma inside quotes is invalid anyway.
 */
export function listElements(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(",")) {
    const t = trimOWS(part);
    if (t !== "") out.push(t);
  }
  return out;
}
