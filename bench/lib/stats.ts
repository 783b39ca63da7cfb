/** Small numeric helpers for timing reports. */

export function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

/** Linear-interpolated percentile (numpy's default), p in [0, 100]; NaN for no samples. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const k = ((s.length - 1) * p) / 100;
  const lo = Math.floor(k);
  const hi = Math.ceil(k);
  return s[lo] + (s[hi] - s[lo]) * (k - lo);
}

/** The middle value (the mean of the two middle ones for an even count); NaN for no samples. */
export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

export function round(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Seconds since an origin, from the monotonic clock. */
export function since(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** What every engine run of the bench reports, whichever engine it was. */
export interface RunTotals {
  engine: string;
  beam: number;
  threads: number;
  clips: number;
  audioS: number;
  procS: number;
  rtf: number;
}
