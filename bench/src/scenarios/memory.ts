import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from '../orchestrator/context.js';
import { row, withTarget, type MetricRow } from '../orchestrator/results.js';
import { progress } from '../orchestrator/progress.js';

const IDLE_MS = 5_000;

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
  const idleMs = ctx.settings.quick ? 2_000 : IDLE_MS;
  const worker: number[] = [];
  const scheduler: number[] = [];
  const plain: number[] = [];
  const stack: number[] = [];
  for (let round = 1; round <= ctx.settings.rounds; round++) {
    const prefix = ctx.prefix(`memory-r${round}-lib`);
    const plainPrefix = ctx.prefix(`memory-r${round}-plain`);
    const env = { TASKS_PREFIX: prefix, DATABASE_SCHEMA: schema };
    const apps = [ctx.startApp('worker', env, `memory-r${round}-worker`), ctx.startApp('scheduler', env, `memory-r${round}-scheduler`)];
    await Promise.all([
      apps[0].waitForLog((line) => line.context === 'TaskWorker' && String(line.msg).startsWith('Consuming')),
      apps[1].waitForLog((line) => line.context === 'CronScheduler' && String(line.msg).startsWith('Scheduling')),
    ]);
    const stackPrefix = ctx.prefix(`memory-r${round}-stack`);
    const [baseline, reference] = await Promise.all([
      ctx.startRole('plain-idle', { TASKS_PREFIX: plainPrefix, DATABASE_URL: ctx.databaseUrl }, `memory-r${round}-plain`),
      ctx.startRole('stack-idle', { TASKS_PREFIX: stackPrefix, DATABASE_URL: ctx.databaseUrl, DATABASE_SCHEMA: schema }, `memory-r${round}-stack`),
    ]);
    await sleep(idleMs);
    worker.push(apps[0].rssMb());
    scheduler.push(apps[1].rssMb());
    plain.push(baseline.rssMb());
    stack.push(reference.rssMb());
    await Promise.all([...apps.map((app) => app.terminate()), baseline.stop(), reference.stop()]);
    await Promise.all([ctx.deletePrefix(prefix), ctx.deletePrefix(plainPrefix), ctx.deletePrefix(stackPrefix)]);
    progress(
      `memory round ${round}: worker ${worker.at(-1)?.toFixed(0)} MB, scheduler ${scheduler.at(-1)?.toFixed(0)} MB, ` +
        `plain ${plain.at(-1)?.toFixed(0)} MB, same stack without the library ${stack.at(-1)?.toFixed(0)} MB`,
    );
  }
  const scenario = '5 memory';
  const under120 = (m: MetricRow) => m.library.max < 120;
  return [
    withTarget(row({ scenario, metric: 'idle worker RSS (apps/worker)', unit: 'MB', better: 'lower' }, worker, plain), 'max < 120 MB', under120),
    withTarget(row({ scenario, metric: 'idle scheduler RSS (apps/scheduler)', unit: 'MB', better: 'lower' }, scheduler, plain), 'max < 120 MB', under120),
    row(
      { scenario, metric: '  idle worker RSS vs the same stack without the library (Nest, pino, TypeORM, 2 Workers, Redlock)', unit: 'MB', better: 'lower' },
      worker,
      stack,
    ),
  ];
}
