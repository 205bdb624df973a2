import { Queue, QueueEvents } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { preciseNow } from '../shared/clock.js';
import { NAMES, type LatencySample } from '../shared/protocol.js';
import { BenchTasks } from '../roles/bench-tasks.js';
import type { BenchContext } from '../orchestrator/context.js';
import type { RoleProcess } from '../orchestrator/children.js';
import { row, type MetricRow } from '../orchestrator/results.js';
import { quantile } from '../orchestrator/stats.js';
import { progress } from '../orchestrator/progress.js';
import { TASKS_QUEUE } from '#nestjs-tasks-internal';

const RATE = 500;
const WARM_UP = 250;
const ROUND_TRIP_WARM_UP = 50;
const CONCURRENCY = 10;

interface Producer {
  /** Enqueues one `bench.stamp` job carrying `sentAt`. */
  stamp(sentAt: number): Promise<unknown>;
  /** Enqueues one `bench.echo` job and waits for its result. */
  roundTrip(n: number): Promise<unknown>;
}

interface RoundResult {
  /** Enqueue → handler start, ms, in send order (warm-up dropped). */
  startLatencies: number[];
  /** Enqueue → result back, ms. */
  roundTrips: number[];
}

/** Sends `count` jobs at a steady `RATE`, open loop: a slow answer does not slow the sending. */
async function steady(count: number, send: (sentAt: number) => Promise<unknown>): Promise<void> {
  const interval = 1_000 / RATE;
  const start = performance.now();
  const pending: Promise<unknown>[] = [];
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor((performance.now() - start) / interval) + 1);
    while (sent < due) {
      pending.push(send(preciseNow()));
      sent++;
    }
    await sleep(1);
  }
  await Promise.all(pending);
}

async function measure(producer: Producer, worker: RoleProcess, sizes: { steady: number; roundTrips: number }): Promise<RoundResult> {
  const total = WARM_UP + sizes.steady;
  await steady(total, (sentAt) => producer.stamp(sentAt));
  let samples: LatencySample[] = [];
  const deadline = Date.now() + 30_000;
  while ((samples = (await worker.report()).latency).length < total) {
    if (Date.now() > deadline) throw new Error(`only ${samples.length} of ${total} stamp jobs ran`);
    await sleep(100);
  }
  const startLatencies = samples
    .sort((a, b) => a[0] - b[0])
    .slice(WARM_UP)
    .map(([sentAt, startedAt]) => startedAt - sentAt);

  for (let n = 0; n < ROUND_TRIP_WARM_UP; n++) await producer.roundTrip(n);
  const roundTrips: number[] = [];
  for (let n = 0; n < sizes.roundTrips; n++) {
    const started = preciseNow();
    await producer.roundTrip(n);
    roundTrips.push(preciseNow() - started);
  }
  return { startLatencies, roundTrips };
}

/**
 * Scenario 3: enqueue → handler start at a steady 500 jobs/s (the handler, in
 * a worker process, compares its start time with the enqueue time in the
 * payload), and enqueue + wait for the result, serially.
 */
export async function latencyScenario(ctx: BenchContext): Promise<MetricRow[]> {
  const sizes = ctx.settings.quick ? { steady: 500, roundTrips: 100 } : { steady: 2_000, roundTrips: 500 };
  const lib: RoundResult[] = [];
  const base: RoundResult[] = [];
  const env = (prefix: string) => ({ TASKS_PREFIX: prefix, WORKER_CONCURRENCY: String(CONCURRENCY) });
  for (let round = 1; round <= ctx.settings.rounds; round++) {
    const libPrefix = ctx.prefix(`latency-r${round}-lib`);
    const plainPrefix = ctx.prefix(`latency-r${round}-plain`);
    // Both sides boot together; a worker idle on an empty queue costs nothing while the other side runs.
    const [libWorker, plainWorker, { app, client }] = await Promise.all([
      ctx.startRole('lib-worker', env(libPrefix), `latency-r${round}-lib-worker`),
      ctx.startRole('plain-worker', env(plainPrefix), `latency-r${round}-plain-worker`),
      ctx.clientApp(libPrefix),
    ]);
    const queue = new Queue(TASKS_QUEUE, { connection: ctx.connection, prefix: plainPrefix });
    // Completed jobs are kept (BullMQ's default), so waitUntilFinished can always find them.
    const events = new QueueEvents(TASKS_QUEUE, { connection: ctx.connection, prefix: plainPrefix });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    lib.push(
      await measure(
        {
          stamp: (sentAt) => client.enqueue(BenchTasks, 'stamp', { sentAt }),
          roundTrip: async (n) => (await client.enqueue(BenchTasks, 'echo', { n })).waitResult({ timeoutMs: 10_000 }),
        },
        libWorker,
        sizes,
      ),
    );
    base.push(
      await measure(
        {
          stamp: (sentAt) => queue.add(NAMES.stamp, { sentAt }),
          roundTrip: async (n) => (await queue.add(NAMES.echo, { n })).waitUntilFinished(events, 10_000),
        },
        plainWorker,
        sizes,
      ),
    );
    await app.close();
    await events.close();
    await queue.close();
    await Promise.all([libWorker.stop(), plainWorker.stop()]);
    await Promise.all([ctx.deletePrefix(libPrefix), ctx.deletePrefix(plainPrefix)]);
    const [l, b] = [lib.at(-1) as RoundResult, base.at(-1) as RoundResult];
    progress(
      `latency round ${round}: start p50 ${quantile(l.startLatencies, 0.5).toFixed(2)} vs ${quantile(b.startLatencies, 0.5).toFixed(2)} ms, ` +
        `p99 ${quantile(l.startLatencies, 0.99).toFixed(2)} vs ${quantile(b.startLatencies, 0.99).toFixed(2)} ms; ` +
        `round trip p50 ${quantile(l.roundTrips, 0.5).toFixed(2)} vs ${quantile(b.roundTrips, 0.5).toFixed(2)} ms`,
    );
  }
  const scenario = '3 latency';
  const per = (results: RoundResult[], pick: (r: RoundResult) => number[], q: number) => results.map((r) => quantile(pick(r), q));
  const pooled = (results: RoundResult[], pick: (r: RoundResult) => number[], q: number) => [quantile(results.flatMap(pick), q)];
  const rows: MetricRow[] = [];
  const start = (r: RoundResult) => r.startLatencies;
  const trip = (r: RoundResult) => r.roundTrips;
  for (const [name, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
    rows.push(
      row(
        { scenario, metric: `enqueue → handler start at ${RATE}/s, ${name} (per round)`, unit: 'ms', better: 'lower' },
        per(lib, start, q),
        per(base, start, q),
      ),
    );
  }
  rows.push(
    row(
      { scenario, metric: `enqueue → handler start, p99 over all ${sizes.steady * ctx.settings.rounds} jobs`, unit: 'ms', better: 'lower' },
      pooled(lib, start, 0.99),
      pooled(base, start, 0.99),
    ),
  );
  for (const [name, q] of [['p50', 0.5], ['p99', 0.99]] as const) {
    rows.push(
      row(
        { scenario, metric: `enqueue + waitResult round trip, ${name} (per round)`, unit: 'ms', better: 'lower' },
        per(lib, trip, q),
        per(base, trip, q),
      ),
    );
  }
  return rows;
}
