import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from '../orchestrator/context.js';
import { row, withTarget, type MetricRow } from '../orchestrator/results.js';
import { progress } from '../orchestrator/progress.js';

/** When RSS is read after boot: just booted, and settled. */
const BOOTED_MS = 5_000;
// V8 keeps the young generation it grew to while Nest and TypeORM booted
// until its memory reducer runs on the idle heap, which took 20–60 s after
// boot here (docs/benchmarks.md): an idle process is read well after that.
const SETTLED_MS = 90_000;

/**
 * Scenario 5: resident memory of the built apps/worker and apps/scheduler
 * (the example app: its tasks, its crons, Postgres tracking) after boot and a
 * few seconds idle, next to a plain process holding what they hold without
 * the library (two BullMQ Workers, a Redlock client, a connected pg pool), and
 * next to the stack the issue prescribes (Nest, nestjs-pino, TypeORM, BullMQ,
 * Redlock) booted without the library.
 */
export async function memoryScenario(ctx: BenchContext): Promise<MetricRow[]> {
  const schema = await ctx.freshSchema('memory');
  const [bootedMs, settledMs] = ctx.settings.quick ? [2_000, 4_000] : [BOOTED_MS, SETTLED_MS];
  const kinds = ['worker', 'scheduler', 'plain', 'stack'] as const;
  const booted = Object.fromEntries(kinds.map((k) => [k, [] as number[]])) as Record<(typeof kinds)[number], number[]>;
  const settled = Object.fromEntries(kinds.map((k) => [k, [] as number[]])) as Record<(typeof kinds)[number], number[]>;
  for (let round = 1; round <= ctx.settings.rounds; round++) {
    const prefix = ctx.prefix(`memory-r${round}-lib`);
    const plainPrefix = ctx.prefix(`memory-r${round}-plain`);
    const stackPrefix = ctx.prefix(`memory-r${round}-stack`);
    const env = { TASKS_PREFIX: prefix, DATABASE_SCHEMA: schema };
    // All four boot together, so each has been idle for the same time when read.
    const apps = [ctx.startApp('worker', env, `memory-r${round}-worker`), ctx.startApp('scheduler', env, `memory-r${round}-scheduler`)];
    const [, , baseline, reference] = await Promise.all([
      apps[0].waitForLog((line) => line.context === 'TaskWorkerHost' && String(line.msg).startsWith('Consuming')),
      apps[1].waitForLog((line) => line.context === 'CronScheduler' && String(line.msg).startsWith('Scheduling')),
      ctx.startRole('plain-idle', { TASKS_PREFIX: plainPrefix, DATABASE_URL: ctx.databaseUrl }, `memory-r${round}-plain`),
      ctx.startRole('stack-idle', { TASKS_PREFIX: stackPrefix, DATABASE_URL: ctx.databaseUrl, DATABASE_SCHEMA: schema }, `memory-r${round}-stack`),
    ]);
    const processes = { worker: apps[0], scheduler: apps[1], plain: baseline, stack: reference };
    const read = (into: typeof booted) => kinds.forEach((k) => into[k].push(processes[k].rssMb()));
    await sleep(bootedMs);
    read(booted);
    await sleep(settledMs - bootedMs);
    read(settled);
    await Promise.all([...apps.map((app) => app.terminate()), baseline.stop(), reference.stop()]);
    await Promise.all([ctx.deletePrefix(prefix), ctx.deletePrefix(plainPrefix), ctx.deletePrefix(stackPrefix)]);
    const mb = (k: (typeof kinds)[number]) => `${booted[k].at(-1)?.toFixed(0)} → ${settled[k].at(-1)?.toFixed(0)}`;
    progress(
      `memory round ${round} (MB after ${bootedMs / 1_000} s → ${settledMs / 1_000} s): worker ${mb('worker')}, scheduler ${mb('scheduler')}, ` +
        `plain ${mb('plain')}, same stack without the library ${mb('stack')}`,
    );
  }
  const scenario = '5 memory';
  const under120 = (m: MetricRow) => m.library.max < 120;
  const settledAt = `${settledMs / 1_000} s after boot`;
  const bootedAt = `${bootedMs / 1_000} s after boot`;
  return [
    withTarget(
      row({ scenario, metric: `idle worker RSS (apps/worker), ${settledAt}`, unit: 'MB', better: 'lower' }, settled.worker, settled.plain),
      'max < 120 MB',
      under120,
    ),
    withTarget(
      row({ scenario, metric: `idle scheduler RSS (apps/scheduler), ${settledAt}`, unit: 'MB', better: 'lower' }, settled.scheduler, settled.plain),
      'max < 120 MB',
      under120,
    ),
    row(
      { scenario, metric: `  idle worker RSS vs the same stack without the library (Nest, pino, TypeORM, 2 Workers, Redlock), ${settledAt}`, unit: 'MB', better: 'lower' },
      settled.worker,
      settled.stack,
    ),
    row({ scenario, metric: `  worker RSS ${bootedAt}`, unit: 'MB', better: 'lower' }, booted.worker, booted.plain),
    row({ scenario, metric: `  scheduler RSS ${bootedAt}`, unit: 'MB', better: 'lower' }, booted.scheduler, booted.plain),
    row({ scenario, metric: `  worker RSS vs the same stack without the library, ${bootedAt}`, unit: 'MB', better: 'lower' }, booted.worker, booted.stack),
  ];
}
