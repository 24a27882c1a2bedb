/** Small helpers shared by the benches. */

/**
 * Median of the finite values (a stage missing from a run is recorded as NaN and left out);
 * mean of the two middle values for an even count; NaN when nothing is left.
 */
export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
