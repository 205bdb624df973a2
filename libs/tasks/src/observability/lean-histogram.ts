import type * as PromClient from 'prom-client';

/**
 * A Prometheus histogram that a prom-client Registry reads like its own, with
 * a hot path of a few array writes, for one or two labels. Every task attempt
 * (and every cron run, whose code is cold a second after the last) is observed once, and
 * prom-client's `observe` validates and hashes its labels, builds a closure
 * and looks its bucket up by a float-keyed property on every call: about
 * 1.5 µs of a no-op job's 100 µs of worker CPU (docs/benchmarks.md), over the
 * 1 % for which a type of our own is worth keeping.
 *
 * prom-client has no public interface for a metric of another kind: its
 * Registry duck-types what it registers (`name`, `help`, `type`,
 * `aggregator`, `get()`, `reset()`). This file is the only one that relies on
 * that; `lean-histogram.spec.ts` renders it next to prom-client's own
 * Histogram through every way a registry is read (text, OpenMetrics, JSON,
 * merged, cluster-aggregated), so an upgrade that changes the contract fails there.
 */
export class LeanHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Series by their first label value, then the rest joined: the hot path looks up strings it already holds. */
  private readonly series = new Map<string, Map<string, HistogramSeries>>();
  /** The same series in the order they were created, the order prom-client renders its own in. */
  private ordered: HistogramSeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly [string] | readonly [string, string],
    private readonly upperBounds: readonly number[],
  ) {}

  /**
   * Registers it in `registry`, or observes into the histogram of that name
   * registered there before: ours (two modules sharing a registry), or a
   * prom-client one (the app's, or an earlier version's of the library).
   */
  static in(
    registry: PromClient.Registry,
    name: string,
    help: string,
    labelNames: readonly [string] | readonly [string, string],
    upperBounds: readonly number[],
  ): Pick<LeanHistogram, 'observe'> {
    const existing = registry.getSingleMetric(name) as unknown;
    if (existing instanceof LeanHistogram) return existing;
    if (existing) {
      const theirs = existing as PromClient.Histogram;
      const [a, b] = labelNames;
      return { observe: (value, first, second) => theirs.observe(b === undefined ? { [a]: first } : { [a]: first, [b]: second }, value) };
    }
    const histogram = new LeanHistogram(name, help, labelNames, upperBounds);
    registry.registerMetric(histogram as unknown as PromClient.Metric);
    return histogram;
  }

  /** Observes `value` in the series of the label values `first` and (with two labels) `second`. */
  observe(value: number, first: string, second = ''): void {
    let byFirst = this.series.get(first);
    if (!byFirst) this.series.set(first, (byFirst = new Map()));
    let series = byFirst.get(second);
    if (!series) {
      byFirst.set(second, (series = new HistogramSeries(this.labelsOf(first, second), this.upperBounds)));
      this.ordered.push(series);
    }
    series.observe(value);
  }

  /** Drops every series, as prom-client's `reset` does. */
  reset(): void {
    this.series.clear();
    this.ordered = [];
  }

  /** What a Registry renders as text: each line's own labels (`le`) and the series' labels apart, as prom-client's Histogram gives them. */
  getForPromString(): Rendered {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, counts, sum, count } of this.ordered) {
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += counts[i] as number;
        values.push({ labels: { le: this.upperBounds[i] as number }, sharedLabels: labels, value: cumulative, metricName: bucket, exemplar: null });
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels: labels, value: sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: labels, value: count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The registry's JSON (`getMetricsAsJSON`, cluster aggregation): each line with all its labels. */
  get(): Rendered {
    const rendered = this.getForPromString();
    rendered.values = rendered.values.map(({ labels, sharedLabels, ...line }) => ({ ...line, labels: { ...labels, ...sharedLabels } }));
    return rendered;
  }

  private labelsOf(first: string, second: string): Record<string, string> {
    const [a, b] = this.labelNames;
    return b === undefined ? { [a]: first } : { [a]: first, [b]: second };
  }
}

interface Sample {
  labels: Record<string, string | number>;
  sharedLabels?: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
  /** Bucket lines carry an empty exemplar slot, as prom-client's own do without exemplars. */
  exemplar?: null;
}

interface Rendered {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: Sample[];
}

class HistogramSeries {
  /** Observations per bucket (not cumulative); those above the last bound are only in `count`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
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
}
