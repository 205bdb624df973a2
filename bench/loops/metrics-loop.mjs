// What one metric observation costs with prom-client's Counter and Histogram,
// through a kept labelled child and through a label object (what the
// library's metrics do). A worker makes three observations per task attempt:
// tasks_started_total, tasks_completed_total and tasks_run_duration_seconds.
// CPU time per observation, median of 7 rounds of 1,000,000. An investigation
// tool for docs/benchmarks.md, not part of `npm run bench`.
//
//   node bench/loops/metrics-loop.mjs
import { Counter, Histogram, Registry } from 'prom-client';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const N = 1_000_000;

function median(fn) {
  for (let i = 0; i < N; i++) fn(i);
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < N; i++) fn(i);
    const t = process.cpuUsage(t0);
    rounds.push(((t.user + t.system) * 1_000) / N);
  }
  rounds.sort((a, b) => a - b);
  return rounds[3];
}

const results = [];
const registry = new Registry();
const promCounter = new Counter({ name: 'c_total', help: 'h', labelNames: ['task'], registers: [registry] });
const promHistogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['task', 'outcome'], buckets: BUCKETS, registers: [registry] });
const promCounterChild = promCounter.labels('noop');
const promHistogramChild = promHistogram.labels('noop', 'completed');
// Durations of a no-op task: below the first bucket, the histogram's cheapest walk.
results.push(['prom-client Counter, kept child .inc()', median(() => promCounterChild.inc())]);
results.push(['prom-client Counter .inc({ task }) ', median(() => promCounter.inc({ task: 'noop' }))]);
results.push(['prom-client Histogram, kept child .observe(0.0002)', median(() => promHistogramChild.observe(0.0002))]);
results.push(['prom-client Histogram, kept child .observe(0.7)', median(() => promHistogramChild.observe(0.7))]);
results.push(['prom-client Histogram .observe({ task, outcome }, 0.0002)', median(() => promHistogram.observe({ task: 'noop', outcome: 'completed' }, 0.0002))]);

for (const [what, ns] of results) console.log(`${what.padEnd(52)} ${ns.toFixed(1)} ns`);
