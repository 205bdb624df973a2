import { describe, expect, it } from 'vitest';
import { AggregatorRegistry, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { LeanHistogram } from './lean-histogram.js';

// What LeanHistogram relies on is prom-client's Registry reading any object
// it registers by its fields and get()/getForPromString(). If an upgrade
// changes how a registry reads a metric, these fail: every way a registry is
// read must give, for the same observations, what prom-client's own Histogram gives.
const BUCKETS = [0.005, 0.1, 1, 10];
const OBSERVATIONS: [string, string, number][] = [
  ['echo', 'completed', 0.001],
  ['echo', 'completed', 0.005],
  ['echo', 'completed', 0.5],
  ['flaky', 'retried', 42],
  ['echo', 'failed', 10],
  ['name "quoted"\\', 'completed', 0.2],
];

function both(openMetrics = false): { ours: Registry; theirs: Registry; lean: Pick<LeanHistogram, 'observe'>; reference: Histogram<'task' | 'outcome'> } {
  const theirs = new Registry();
  const ours = new Registry();
  if (openMetrics) for (const registry of [theirs, ours]) (registry as Registry<RegistryContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const reference = new Histogram({ name: 'x_seconds', help: 'Help.', labelNames: ['task', 'outcome'], buckets: BUCKETS, registers: [theirs] });
  const lean = LeanHistogram.in(ours, 'x_seconds', 'Help.', ['task', 'outcome'], BUCKETS);
  for (const [task, outcome, value] of OBSERVATIONS) {
    reference.observe({ task, outcome }, value);
    lean.observe(value, task, outcome);
  }
  return { ours, theirs, lean, reference };
}

describe('LeanHistogram in a prom-client Registry', () => {
  it('renders the Prometheus text format exactly as prom-client’s Histogram', async () => {
    const { ours, theirs } = both();
    const text = await theirs.metrics();
    expect(text).toContain('x_seconds_bucket{le="0.1",task="echo",outcome="completed"} 2');
    expect(await ours.metrics()).toBe(text);
  });

  it('renders OpenMetrics exactly as prom-client’s Histogram', async () => {
    const { ours, theirs } = both(true);
    expect(await theirs.metrics()).toContain('# EOF');
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('gives the same JSON, and the same text once registries are merged', async () => {
    const { ours, theirs } = both();
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    expect(await Registry.merge([ours, new Registry()]).metrics()).toBe(await Registry.merge([theirs, new Registry()]).metrics());
  });

  it('aggregates across cluster workers as prom-client’s Histogram does', async () => {
    const ours = await Promise.all([both().ours.getMetricsAsJSON(), both().ours.getMetricsAsJSON()]);
    const theirs = await Promise.all([both().theirs.getMetricsAsJSON(), both().theirs.getMetricsAsJSON()]);
    const text = await AggregatorRegistry.aggregate(theirs).metrics();
    expect(text).toContain('x_seconds_count{task="echo",outcome="completed"} 6');
    expect(await AggregatorRegistry.aggregate(ours).metrics()).toBe(text);
  });

  it('resets as prom-client’s Histogram does, with default labels applied alike', async () => {
    const { ours, theirs, lean, reference } = both();
    ours.setDefaultLabels({ app: 'worker' });
    theirs.setDefaultLabels({ app: 'worker' });
    expect(await ours.metrics()).toBe(await theirs.metrics());
    ours.resetMetrics();
    theirs.resetMetrics();
    lean.observe(0.2, 'echo', 'completed');
    reference.observe({ task: 'echo', outcome: 'completed' }, 0.2);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('renders a one-label histogram as prom-client’s does', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({ name: 'y_seconds', help: 'Help.', labelNames: ['cron'], buckets: BUCKETS, registers: [theirs] });
    const lean = LeanHistogram.in(ours, 'y_seconds', 'Help.', ['cron'], BUCKETS);
    for (const [cron, value] of [['nightly', 0.003], ['hourly', 0.5], ['nightly', 20]] as const) {
      reference.observe({ cron }, value);
      lean.observe(value, cron);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('observes into a prom-client histogram of the same name registered before it', async () => {
    const registry = new Registry();
    const theirs = new Histogram({ name: 'x_seconds', help: 'Help.', labelNames: ['task', 'outcome'], buckets: BUCKETS, registers: [registry] });
    LeanHistogram.in(registry, 'x_seconds', 'Help.', ['task', 'outcome'], BUCKETS).observe(0.5, 'echo', 'completed');
    theirs.observe({ task: 'echo', outcome: 'completed' }, 0.01);
    expect(await registry.metrics()).toContain('x_seconds_count{task="echo",outcome="completed"} 2');
  });

  it('is found again by a second module sharing the registry, which counts into the same series', async () => {
    const { ours } = both();
    const again = LeanHistogram.in(ours, 'x_seconds', 'Help.', ['task', 'outcome'], BUCKETS);
    again.observe(0.001, 'echo', 'completed');
    expect(await ours.metrics()).toContain('x_seconds_count{task="echo",outcome="completed"} 4');
  });
});
