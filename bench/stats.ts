/** The one statistic the benchmarks report: a median that ignores unparsed figures. */

/**
 * The median of the figures that parsed (NaN if none did); with an even
 * count, the mean of the two middle ones, so neither side of a tie is favoured.
 */
export function median(xs: readonly number[]): number {
  const ok = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (ok.length === 0) return Number.NaN;
  const mid = ok.length >> 1;
  return ok.length % 2 === 1 ? ok[mid]! : (ok[mid - 1]! + ok[mid]!) / 2;
}
