import { Queue } from 'bullmq';
import type { EnqueueManyItem } from 'nestjs-tasks';
import { preciseNow } from '../shared/clock.js';
import { NAMES } from '../shared/protocol.js';
import { BenchTasks } from '../roles/bench-tasks.js';
import type { BenchContext } from '../orchestrator/context.js';
import { row, withTarget, type MetricRow } from '../orchestrator/results.js';
import { progress } from '../orchestrator/progress.js';
import { TASKS_QUEUE } from '#nestjs-tasks-internal';

const IN_FLIGHT = 100;
const BULK_BATCH = 1_000;
/** Each mode is measured in this many slices, library and plain taking turns, so load drifts hit both alike. */
const SLICES = 10;

type Mode = 'serial' | 'inFlight' | 'bulk';
const MODES: readonly Mode[] = ['serial', 'inFlight', 'bulk'];

/** How one side enqueues: one job awaited, or a batch in one call. */
interface Producer {
  one(n: number): Promise<unknown>;
  many(from: number, count: number): Promise<unknown>;
}

/** Time and CPU spent by one side in one mode, summed over its slices. */
interface Tally {
  jobs: number;
  ms: number;
  cpuUs: number;
  redisCpuMs: number;
}

type Tallies = Record<Mode, Tally>;

const emptyTallies = (): Tallies => ({
  serial: { jobs: 0, ms: 0, cpuUs: 0, redisCpuMs: 0 },
  inFlight: { jobs: 0, ms: 0, cpuUs: 0, redisCpuMs: 0 },
  bulk: { jobs: 0, ms: 0, cpuUs: 0, redisCpuMs: 0 },
});

async function slice(ctx: BenchContext, producer: Producer, mode: Mode, jobs: number, tally: Tally): Promise<void> {
  const cpu0 = process.cpuUsage();
  const redis0 = await ctx.redisCpuMs();
  const started = preciseNow();
  if (mode === 'serial') {
    for (let n = 0; n < jobs; n++) await producer.one(n);
  } else if (mode === 'inFlight') {
    let next = 0;
    const lane = async () => {
      while (next < jobs) await producer.one(next++);
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  } else {
    for (let from = 0; from < jobs; from += BULK_BATCH) await producer.many(from, Math.min(BULK_BATCH, jobs - from));
  }
  tally.ms += preciseNow() - started;
  const cpu = process.cpuUsage(cpu0);
  tally.cpuUs += cpu.user + cpu.system;
  tally.redisCpuMs += (await ctx.redisCpuMs()) - redis0;
  tally.jobs += jobs;
}

/**
 * Scenario 1: `TaskClient.enqueue` vs `queue.add` (serially awaited, and 100
 * in flight) and `enqueueMany` vs `addBulk`, in the orchestrator process.
 * Each round has its own prefixes; within it the two sides take turns slice by slice.
 */
export async function enqueueScenario(ctx: BenchContext): Promise<MetricRow[]> {
  const scale = ctx.settings.quick ? 10 : 1;
  const sizes: Record<Mode, number> = { serial: 5_000 / scale, inFlight: 20_000 / scale, bulk: 20_000 / scale };
  const lib: Tallies[] = [];
  const base: Tallies[] = [];
  for (let round = 1; round <= ctx.settings.rounds; round++) {
    const libPrefix = ctx.prefix(`enqueue-r${round}-lib`);
    const plainPrefix = ctx.prefix(`enqueue-r${round}-plain`);
    const { app, client } = await ctx.clientApp(libPrefix);
    const queue = new Queue(TASKS_QUEUE, { connection: ctx.connection, prefix: plainPrefix });
    await queue.waitUntilReady();
    const items = (from: number, count: number): EnqueueManyItem[] =>
      Array.from({ length: count }, (_, i) => ({ name: NAMES.noop, payload: { n: from + i } }));
    const jobs = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ name: NAMES.noop, data: { n: from + i } }));
    const libProducer: Producer = {
      one: (n) => client.enqueue(BenchTasks, 'noop', { n }),
      many: (from, count) => client.enqueueMany(items(from, count)),
    };
    const plainProducer: Producer = {
      one: (n) => queue.add(NAMES.noop, { n }),
      many: (from, count) => queue.addBulk(jobs(from, count)),
    };
    // Warm-up: connections, scripts, JIT.
    for (const producer of [libProducer, plainProducer]) {
      for (let n = 0; n < 300; n++) await producer.one(n);
      await producer.many(0, BULK_BATCH);
    }
    const [l, b] = [emptyTallies(), emptyTallies()];
    for (const mode of MODES) {
      for (let s = 0; s < SLICES; s++) {
        await slice(ctx, libProducer, mode, sizes[mode] / SLICES, l[mode]);
        await slice(ctx, plainProducer, mode, sizes[mode] / SLICES, b[mode]);
      }
    }
    lib.push(l);
    base.push(b);
    await app.close();
    await queue.close();
    await Promise.all([ctx.deletePrefix(libPrefix), ctx.deletePrefix(plainPrefix)]);
    const rate = (t: Tally) => ((t.jobs * 1_000) / t.ms).toFixed(0);
    progress(
      `enqueue round ${round}: serial ${rate(l.serial)} vs ${rate(b.serial)}/s, ${IN_FLIGHT} in flight ${rate(l.inFlight)} vs ${rate(b.inFlight)}/s, ` +
        `bulk ${rate(l.bulk)} vs ${rate(b.bulk)}/s`,
    );
  }
  const scenario = '1 enqueue';
  const at90 = (m: MetricRow) => (m.ratio?.median ?? 0) >= 0.9;
  const labels: Record<Mode, string> = {
    serial: `enqueue vs add, serial (${sizes.serial})`,
    inFlight: `enqueue vs add, ${IN_FLIGHT} in flight (${sizes.inFlight})`,
    bulk: `enqueueMany vs addBulk, ${BULK_BATCH}/call (${sizes.bulk})`,
  };
  const short: Record<Mode, string> = { serial: 'serial', inFlight: `${IN_FLIGHT} in flight`, bulk: 'bulk' };
  const rows: MetricRow[] = [];
  for (const mode of MODES) {
    const pick = (all: Tallies[], f: (t: Tally) => number) => all.map((t) => f(t[mode]));
    rows.push(
      withTarget(
        row(
          { scenario, metric: labels[mode], unit: 'jobs/s', better: 'higher' },
          pick(lib, (t) => (t.jobs * 1_000) / t.ms),
          pick(base, (t) => (t.jobs * 1_000) / t.ms),
        ),
        'ratio ≥ 0.90',
        at90,
      ),
      row(
        { scenario, metric: `  producer CPU per job, ${short[mode]}`, unit: 'µs', better: 'lower' },
        pick(lib, (t) => t.cpuUs / t.jobs),
        pick(base, (t) => t.cpuUs / t.jobs),
      ),
      row(
        { scenario, metric: `  Redis CPU per job, ${short[mode]}`, unit: 'µs', better: 'lower' },
        pick(lib, (t) => (t.redisCpuMs * 1_000) / t.jobs),
        pick(base, (t) => (t.redisCpuMs * 1_000) / t.jobs),
      ),
    );
  }
  return rows;
}
