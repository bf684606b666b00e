import type { Point } from './store.ts';

/**
 * Weighted nearest-rank percentile per bucket of `rows` ([ts, value, weight], sorted by ts); a row
 * standing for n merged points counts n times. Pure.
 */
export function bucketPercentiles(rows: [number, number, number][], step: number, q: number): Point[] {
  const out: Point[] = [];
  let i = 0;
  while (i < rows.length) {
    const b = rows[i]![0] - (rows[i]![0] % step);
    const bucket: [number, number][] = [];
    while (i < rows.length && rows[i]![0] - (rows[i]![0] % step) === b) { bucket.push([rows[i]![1], rows[i]![2]]); i++; }
    out.push([b, percentile(bucket, q)]);
  }
  return out;
}

/** Nearest-rank percentile of weighted values ([value, weight]); NaN for none. */
export function percentile(values: [number, number][], q: number): number {
  if (!values.length) return NaN;
  const sorted = values.slice().sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((s, v) => s + v[1], 0);
  const rank = Math.max(1, Math.ceil(q * total));
  let acc = 0;
  for (const [v, w] of sorted) { acc += w; if (acc >= rank) return v; }
  return sorted[sorted.length - 1]![0];
}
