import { describe, expect, it } from 'vitest';
import { Histogram, Registry, type Metric } from 'prom-client';
import { LeanHistogram } from './lean-histogram.js';

describe('LeanHistogram', () => {
  it("renders exactly as prom-client's Histogram does for the same observations", async () => {
    const buckets = [0.005, 0.1, 1, 10];
    const observations: [string, string, number][] = [
      ['echo', 'completed', 0.001],
      ['echo', 'completed', 0.005],
      ['echo', 'completed', 0.5],
      ['flaky', 'retried', 42],
      ['echo', 'failed', 10],
    ];
    const theirs = new Registry();
    const reference = new Histogram({ name: 'x_seconds', help: 'Help.', labelNames: ['task', 'outcome'], buckets, registers: [theirs] });
    const ours = new Registry();
    const lean = new LeanHistogram('x_seconds', 'Help.', ['task', 'outcome'], buckets);
    ours.registerMetric(lean as unknown as Metric);
    for (const [task, outcome, value] of observations) {
      reference.labels(task, outcome).observe(value);
      lean.labels(task, outcome).observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    lean.reset();
    reference.reset();
    lean.labels('echo', 'completed').observe(0.2);
    reference.labels('echo', 'completed').observe(0.2);
    // prom-client drops reset series; ours keeps them at zero, which Prometheus reads as a counter reset either way.
    expect(await ours.metrics()).toContain('x_seconds_count{task="echo",outcome="completed"} 1');
    expect(await ours.metrics()).toContain('x_seconds_count{task="flaky",outcome="retried"} 0');
  });
});
