import { describe, expect, it } from 'vitest';
import { Counter, Registry, type Metric } from 'prom-client';
import { LeanCounter } from './lean-counter.js';

describe('LeanCounter', () => {
  it("renders exactly as prom-client's Counter does for the same increments", async () => {
    const theirs = new Registry();
    const reference = new Counter({ name: 'x_total', help: 'Help.', labelNames: ['task', 'queue'], registers: [theirs] });
    const ours = new Registry();
    const lean = new LeanCounter('x_total', 'Help.', ['task', 'queue']);
    ours.registerMetric(lean as unknown as Metric);
    const increments: [string, string, number][] = [
      ['echo', 'default', 1],
      ['echo', 'default', 2],
      ['report', 'reports', 1],
      ['with "quotes"', 'default', 5],
    ];
    for (const [task, queue, by] of increments) {
      reference.labels(task, queue).inc(by);
      lean.labels(task, queue).inc(by);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('x_total{task="echo",queue="default"} 3');
  });

  it('renders a counter without labels, and keeps its series at zero after a reset', async () => {
    const theirs = new Registry();
    const reference = new Counter({ name: 'y_total', help: 'Help.', registers: [theirs] });
    const ours = new Registry();
    const lean = new LeanCounter<never>('y_total', 'Help.', []);
    ours.registerMetric(lean as unknown as Metric);
    reference.inc();
    lean.labels().inc();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    lean.reset();
    expect(await ours.metrics()).toContain('y_total 0');
  });
});
