/**
 * A Prometheus counter that a prom-client Registry renders like its own
 * (`get()`, `reset()`, name, help, type, aggregator), with a hot path of one
 * addition: a prom-client counter's `inc`, even on a labelled child, hashes
 * and validates its labels on every call, and the worker counts every task
 * attempt twice.
 */
export class LeanCounter<L extends string> {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, CounterSeries<L>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
  ) {}

  /** The series of one label set; keep it and call `inc` on it. */
  labels(...values: string[]): CounterSeries<L> {
    const key = values.join('\0');
    let series = this.series.get(key);
    if (!series) {
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] ?? ''])) as Record<L, string>;
      series = new CounterSeries(labels);
      this.series.set(key, series);
    }
    return series;
  }

  reset(): void {
    for (const series of this.series.values()) series.value = 0;
  }

  /** The shape prom-client's Registry formats (`MetricObjectWithValues`). */
  get(): { name: string; help: string; type: 'counter'; aggregator: 'sum'; values: { labels: Record<L, string>; value: number }[] } {
    const values = [...this.series.values()].map(({ labels, value }) => ({ labels, value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class CounterSeries<L extends string> {
  value = 0;

  constructor(readonly labels: Record<L, string>) {}

  inc(by = 1): void {
    this.value += by;
  }
}
