import { LeanMetric } from './lean-metric.js';

/**
 * A Prometheus counter that a prom-client Registry renders like its own
 * (`get()`, `reset()`, name, help, type, aggregator), with a hot path of one
 * addition: a prom-client counter's `inc`, even on a labelled child, hashes
 * and validates its labels on every call, and the worker counts every task
 * attempt twice.
 */
export class LeanCounter<L extends string> extends LeanMetric<L, CounterSeries<L>> {
  readonly type = 'counter';

  protected createSeries(labels: Record<L, string>): CounterSeries<L> {
    return new CounterSeries(labels);
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

  reset(): void {
    this.value = 0;
  }
}
