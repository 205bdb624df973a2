/** Summary of one quantity over the rounds of a scenario. */
export interface Series {
  values: number[];
  median: number;
  min: number;
  max: number;
}

/** Quantile `q` (0..1) of `values`, interpolating between the closest ranks (as numpy's default does). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function series(values: readonly number[]): Series {
  return {
    values: [...values],
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** Per-round ratios a/b of two series measured round by round. */
export function ratios(a: readonly number[], b: readonly number[]): Series {
  return series(a.map((value, i) => value / b[i]));
}
