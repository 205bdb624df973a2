import { LeanMetric } from './lean-metric.js';

/**
 * A Prometheus histogram that a prom-client Registry renders like its own
 * (`get()`, `reset()`, name, help, type, aggregator), with a hot path of a
 * few array writes: prom-client's `observe` hashes its labels and walks its
 * buckets through objects on every call (about 1 µs), once per task attempt.
 */
export class LeanHistogram<L extends string> extends LeanMetric<L, HistogramSeries<L>> {
  readonly type = 'histogram';

  constructor(name: string, help: string, labelNames: readonly L[], private readonly upperBounds: readonly number[]) {
    super(name, help, labelNames);
  }

  protected createSeries(labels: Record<L, string>): HistogramSeries<L> {
    return new HistogramSeries(labels, this.upperBounds);
  }

  /** The shape prom-client's Registry formats (`MetricObjectWithValues`). */
  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] } {
    const values: Sample[] = [];
    for (const series of this.series.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += series.counts[i] ?? 0;
        values.push({ labels: { le }, sharedLabels: series.labels, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: series.labels, value: series.count, metricName: `${this.name}_bucket` },
        { labels: {}, sharedLabels: series.labels, value: series.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: series.labels, value: series.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** One line: `le` in its own labels, the series' labels after it, as prom-client writes them. */
interface Sample {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
}

export class HistogramSeries<L extends string> {
  /** Observations per bucket (not cumulative); those above the last bound are only in `count`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<L, string>,
    private readonly upperBounds: readonly number[],
  ) {
    this.counts = new Float64Array(upperBounds.length);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (this.counts[i] as number)++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
