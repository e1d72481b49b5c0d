/** Small statistics helpers for the benchmark results. */

/** Percentile (0-100) of an ascending-sorted array, nearest rank. */
export function pct(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(xs: number[]): number {
  return pct(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

export interface Distribution {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  /** Values at percentiles 1, 2, ..., 100 (for CDF charts). */
  cdf: number[];
}

export function distribution(values: number[], digits = 1): Distribution | null {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  const r = (x: number) => Number(x.toFixed(digits));
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    min: r(s[0]!),
    p50: r(pct(s, 50)),
    p90: r(pct(s, 90)),
    p99: r(pct(s, 99)),
    p999: r(pct(s, 99.9)),
    max: r(s[s.length - 1]!),
    mean: r(sum / s.length),
    cdf: Array.from({ length: 100 }, (_, i) => r(pct(s, i + 1))),
  };
}

export function round(x: number, digits = 1): number {
  return Number(x.toFixed(digits));
}
