import { Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EnqueueManyItem } from '@app/tasks';
import { preciseNow } from '../shared/clock.js';
import { NAMES } from '../shared/protocol.js';
import type { BenchContext } from '../orchestrator/context.js';
import type { RoleProcess } from '../orchestrator/children.js';
import { row, withTarget, type MetricRow } from '../orchestrator/results.js';
import { progress } from '../orchestrator/progress.js';
import { plainSettings, type PlainPolicy } from '../shared/plain-policy.js';

const BATCH = 1_000;
const CONFIGS = [
  { concurrency: 1, processes: 1 },
  { concurrency: 1, processes: 2 },
  { concurrency: 10, processes: 1 },
  { concurrency: 10, processes: 2 },
  { concurrency: 50, processes: 1 },
  { concurrency: 50, processes: 2 },
] as const;

/**
 * The library; plain BullMQ set up with the library's job and retention
 * settings (the baseline of the targets); plain BullMQ with its bare defaults,
 * at one configuration, for reference (shared/plain-policy.ts).
 */
type Side = 'lib' | 'plain' | 'plain-defaults';
/** The configuration that also runs the `plain-defaults` side. */
const DEFAULTS_REFERENCE = { concurrency: 10, processes: 1 };

interface RunResult {
  rate: number;
  /** CPU of the worker processes and of Redis per job, µs. */
  workerCpuUs: number;
  redisCpuUs: number;
}

/** One side of a round, booted and pre-filled, its queue paused. */
interface Prepared {
  label: string;
  queue: Queue;
  workers: RoleProcess[];
}

/**
 * Pre-fills a paused queue with `jobs` no-op jobs while the side's worker
 * processes boot. Both sides of a round are prepared together; an idle
 * worker on a paused queue costs nothing measurable while the other side runs.
 */
async function prepare(ctx: BenchContext, side: Side, label: string, jobs: number, concurrency: number, processes: number): Promise<Prepared> {
  const prefix = ctx.prefix(label);
  const queue = new Queue('tasks', { connection: ctx.connection, prefix });
  await queue.pause();
  const policy: PlainPolicy = side === 'plain-defaults' ? 'defaults' : 'library';
  const env = { TASKS_PREFIX: prefix, WORKER_CONCURRENCY: String(concurrency), BENCH_PLAIN_POLICY: policy };
  const role = side === 'lib' ? 'lib-worker' : 'plain-worker';
  const workersStarting = Array.from({ length: processes }, (_, i) => ctx.startRole(role, env, `${label}-w${i + 1}`));
  const prefill = async () => {
    if (side === 'lib') {
      // Jobs as the library makes them (its attempts and backoff options).
      const { app, client } = await ctx.clientApp(prefix);
      for (let from = 0; from < jobs; from += BATCH) {
        const items: EnqueueManyItem[] = Array.from({ length: BATCH }, (_, i) => ({ name: NAMES.noop, payload: { n: from + i } }));
        await client.enqueueMany(items);
      }
      await app.close();
    } else {
      const opts = plainSettings(policy).job;
      for (let from = 0; from < jobs; from += BATCH) {
        await queue.addBulk(Array.from({ length: BATCH }, (_, i) => ({ name: NAMES.noop, data: { n: from + i }, opts })));
      }
    }
  };
  const [workers] = await Promise.all([Promise.all(workersStarting), prefill()]);
  const waiting = await queue.getJobCountByTypes('wait');
  if (waiting !== jobs) throw new Error(`${label}: expected ${jobs} waiting jobs, found ${waiting}`);
  return { label, queue, workers };
}

/** Resumes the queue and times until no job is waiting or active; boot time is not counted for either side. */
async function run(ctx: BenchContext, { label, queue, workers }: Prepared, jobs: number): Promise<RunResult> {
  const cpu = (all: RoleProcess[]) => all.reduce((sum, w) => sum + w.cpuMs(), 0);
  const workerCpu0 = cpu(workers);
  const redisCpu0 = await ctx.redisCpuMs();
  const started = preciseNow();
  await queue.resume();
  for (;;) {
    const left = await queue.getJobCountByTypes('wait', 'active', 'prioritized', 'delayed');
    if (left === 0) break;
    await sleep(5);
  }
  const elapsedMs = preciseNow() - started;
  const workerCpuUs = ((cpu(workers) - workerCpu0) * 1_000) / jobs;
  const redisCpuUs = (((await ctx.redisCpuMs()) - redisCpu0) * 1_000) / jobs;
  const failed = await queue.getJobCountByTypes('failed');
  if (failed > 0) throw new Error(`${label}: ${failed} jobs failed`);
  return { rate: (jobs * 1_000) / elapsedMs, workerCpuUs, redisCpuUs };
}

async function teardown(ctx: BenchContext, { queue, workers }: Prepared): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
  const prefix = queue.opts.prefix as string;
  await queue.close();
  await ctx.deletePrefix(prefix);
}

/**
 * Scenario 2: no-op tasks through `runWorker` (child processes booted like
 * apps/worker) vs a plain BullMQ Worker, at concurrency 1, 10 and 50, in one
 * and in two processes.
 */
export async function processingScenario(ctx: BenchContext): Promise<MetricRow[]> {
  const jobs = ctx.settings.quick ? 2_000 : 20_000;
  const rows: MetricRow[] = [];
  // BENCH_PROCESSING=10x1,50x2 runs only those configurations (for investigations).
  const only = process.env.BENCH_PROCESSING?.split(',');
  for (const { concurrency, processes } of CONFIGS.filter((c) => !only || only.includes(`${c.concurrency}x${c.processes}`))) {
    const withDefaults = concurrency === DEFAULTS_REFERENCE.concurrency && processes === DEFAULTS_REFERENCE.processes;
    const sides: Side[] = withDefaults ? ['lib', 'plain', 'plain-defaults'] : ['lib', 'plain'];
    const results: Record<Side, RunResult[]> = { lib: [], plain: [], 'plain-defaults': [] };
    for (let round = 1; round <= ctx.settings.rounds; round++) {
      const label = `proc-c${concurrency}x${processes}-r${round}`;
      const prepared = await Promise.all(sides.map((side) => prepare(ctx, side, `${label}-${side}`, jobs, concurrency, processes)));
      await sleep(300);
      // Who goes first alternates by round, so a drift of the machine within a round favours neither side.
      const order = round % 2 === 1 ? sides.keys() : [...sides.keys()].reverse();
      for (const i of order) results[sides[i] as Side].push(await run(ctx, prepared[i] as Prepared, jobs));
      await Promise.all(prepared.map((p) => teardown(ctx, p)));
      const last = (side: Side) => results[side].at(-1) as RunResult;
      const [l, b] = [last('lib'), last('plain')];
      progress(
        `processing c${concurrency}×${processes} round ${round}: ${l.rate.toFixed(0)} vs ${b.rate.toFixed(0)} jobs/s ` +
          `(ratio ${(l.rate / b.rate).toFixed(2)}; CPU/job worker ${l.workerCpuUs.toFixed(0)} vs ${b.workerCpuUs.toFixed(0)} µs, ` +
          `redis ${l.redisCpuUs.toFixed(0)} vs ${b.redisCpuUs.toFixed(0)} µs)` +
          (withDefaults ? `; plain with BullMQ's defaults ${last('plain-defaults').rate.toFixed(0)} jobs/s` : ''),
      );
    }
    const { lib, plain: base } = results;
    const scenario = '2 processing';
    const config = `concurrency ${concurrency} × ${processes} process${processes > 1 ? 'es' : ''}`;
    rows.push(
      withTarget(
        row({ scenario, metric: `${jobs} no-op tasks, ${config}`, unit: 'jobs/s', better: 'higher' }, lib.map((r) => r.rate), base.map((r) => r.rate)),
        'ratio ≥ 0.90',
        (m) => (m.ratio?.median ?? 0) >= 0.9,
      ),
      row(
        { scenario, metric: `  worker CPU per job, ${config}`, unit: 'µs', better: 'lower' },
        lib.map((r) => r.workerCpuUs),
        base.map((r) => r.workerCpuUs),
      ),
      row(
        { scenario, metric: `  Redis CPU per job, ${config}`, unit: 'µs', better: 'lower' },
        lib.map((r) => r.redisCpuUs),
        base.map((r) => r.redisCpuUs),
      ),
    );
    if (withDefaults) {
      const bare = results['plain-defaults'];
      rows.push(
        row(
          { scenario, metric: `  vs plain BullMQ at its defaults (no retries, keeps every job), ${config}`, unit: 'jobs/s', better: 'higher' },
          lib.map((r) => r.rate),
          bare.map((r) => r.rate),
        ),
        row(
          { scenario, metric: `  Redis CPU per job vs plain BullMQ at its defaults, ${config}`, unit: 'µs', better: 'lower' },
          lib.map((r) => r.redisCpuUs),
          bare.map((r) => r.redisCpuUs),
        ),
      );
    }
  }
  return rows;
}
