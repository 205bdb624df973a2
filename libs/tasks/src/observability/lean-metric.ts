/**
 * What the library's lean metrics share: the fields a prom-client Registry
 * reads to render a metric (name, help, type, aggregator), and series by label
 * values, each created on first use and kept, so that the hot path holds a
 * series and never looks it up again.
 */
export abstract class LeanMetric<L extends string, S extends { reset(): void }> {
  readonly aggregator = 'sum';
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
  ) {}

  /** The series of one label set; keep it rather than call this per observation. */
  labels(...values: string[]): S {
    const key = values.join('\0');
    let series = this.series.get(key);
    if (!series) {
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] ?? ''])) as Record<L, string>;
      series = this.createSeries(labels);
      this.series.set(key, series);
    }
    return series;
  }

  /** Zeroes every series (prom-client's `reset`); the series stay, which Prometheus reads as a counter reset. */
  reset(): void {
    for (const series of this.series.values()) series.reset();
  }

  protected abstract createSeries(labels: Record<L, string>): S;
}
