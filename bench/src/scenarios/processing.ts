import { Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { bullQueueName, type EnqueueManyItem } from 'nestjs-tasks';
import { preciseNow } from '../shared/clock.js';
import { EXTRA_QUEUES, NAMES, queuedNoopName } from '../shared/protocol.js';
import type { BenchContext } from '../orchestrator/context.js';
import type { RoleProcess } from '../orchestrator/children.js';
import { inSummary, row, withTarget, type MetricRow, type SummaryCell } from '../orchestrator/results.js';
import { progress } from '../orchestrator/progress.js';
import { median } from '../orchestrator/stats.js';
import { plainSettings, type PlainPolicy } from '../shared/plain-policy.js';
import { TASKS_QUEUE } from '#nestjs-tasks-internal';

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
 * The sides of a round. At every configuration:
 * - `lib`: the library (runWorker, booted like apps/worker), at the default
 *   LOG_LEVEL=info, where it logs two lines per task (start, end with its
 *   duration) with task, jobId and attempt on them;
 * - `plain-log`: plain BullMQ set up with the library's job and retention
 *   settings, logging the same two lines with the same bindings through pino
 *   set up as the library's worker sets it up (the same options and
 *   destination): the like-for-like baseline, the library's own code being
 *   the only difference;
 * - `nest-bullmq-log`: the peer a Nest user picks today, @nestjs/bullmq with a
 *   `@Processor` class extending `WorkerHost` in a Nest application context
 *   (roles/nest-bullmq-roles.ts), set up like `plain` (the same retention,
 *   retries, lock settings and concurrency) and pre-filled the same way,
 *   logging the same two lines through nestjs-pino set up the same way;
 * - `lib-warn`: the library at LOG_LEVEL=warn (no per-task lines);
 * - `plain` and `nest-bullmq`: the same two without the lines; `plain` is the
 *   baseline of `lib-warn`.
 * And, at one configuration, for reference: plain BullMQ with its bare
 * defaults (shared/plain-policy.ts), and the library with its Prometheus
 * metrics off (TASKS_METRICS=false), which tells what the metrics cost. And the
 * several-queues sides: the library and plain BullMQ consuming five queues in
 * one process at concurrency 2 each (ten jobs in flight, as at the reference
 * configuration), the jobs spread evenly over them, which tell whether the
 * cost per job grows with the number of queues a worker consumes.
 */
type Side =
  | 'lib'
  | 'plain-log'
  | 'nest-bullmq-log'
  | 'lib-warn'
  | 'plain'
  | 'nest-bullmq'
  | 'plain-defaults'
  | 'lib-no-metrics'
  | 'lib-queues'
  | 'plain-queues';
const EVERY_CONFIG: readonly Side[] = ['lib', 'plain-log', 'nest-bullmq-log', 'lib-warn', 'plain', 'nest-bullmq'];
const REFERENCE_ONLY: readonly Side[] = ['plain-defaults', 'lib-no-metrics', 'lib-queues', 'plain-queues'];
/** The task queues of the several-queues sides, and the concurrency of each. */
const SEVERAL_QUEUES = ['default', ...EXTRA_QUEUES] as const;
const CONCURRENCY_PER_QUEUE = 2;
/** The configuration that also runs the reference sides (BENCH_REFERENCE=1x1 moves them, for investigations). */
const REFERENCE_CONFIG = process.env.BENCH_REFERENCE ?? '10x1';

interface RunResult {
  rate: number;
  /** CPU of the worker processes and of Redis per job, µs. */
  workerCpuUs: number;
  redisCpuUs: number;
  /** read(2) and write(2) calls of the worker processes per job. */
  workerIoCalls: number;
}

/** One side of a round, booted and pre-filled, its queue paused. */
interface Prepared {
  label: string;
  /** Its queues (one but on the several-queues sides), paused until its turn. */
  queues: Queue[];
  workers: RoleProcess[];
}

const count = async (queues: Queue[], ...states: Parameters<Queue['getJobCountByTypes']>) =>
  (await Promise.all(queues.map((queue) => queue.getJobCountByTypes(...states)))).reduce((sum, n) => sum + n, 0);

/**
 * Pre-fills a paused queue with `jobs` no-op jobs while the side's worker
 * processes boot. Both sides of a round are prepared together; an idle
 * worker on a paused queue costs nothing measurable while the other side runs.
 */
async function prepare(ctx: BenchContext, side: Side, label: string, jobs: number, concurrency: number, processes: number): Promise<Prepared> {
  const prefix = ctx.prefix(label);
  const several = side === 'lib-queues' || side === 'plain-queues';
  const queueNames = several ? SEVERAL_QUEUES.map((queue) => bullQueueName(queue)) : [TASKS_QUEUE];
  const queues = queueNames.map((name) => new Queue(name, { connection: ctx.connection, prefix }));
  await Promise.all(queues.map((queue) => queue.pause()));
  const policy: PlainPolicy = side === 'plain-defaults' ? 'defaults' : 'library';
  const env: Record<string, string> = { TASKS_PREFIX: prefix, WORKER_CONCURRENCY: String(concurrency), BENCH_PLAIN_POLICY: policy };
  if (side === 'lib-warn') env.LOG_LEVEL = 'warn';
  if (side === 'lib-no-metrics') env.TASKS_METRICS = 'false';
  if (side === 'plain-log' || side === 'nest-bullmq-log') env.BENCH_TASK_LINES = '1';
  if (several) {
    env.BENCH_QUEUES = 'several';
    env.WORKER_CONCURRENCY = String(CONCURRENCY_PER_QUEUE);
    env.WORKER_QUEUES = SEVERAL_QUEUES.map((queue) => `${queue}:${CONCURRENCY_PER_QUEUE}`).join(',');
  }
  const isLib = side === 'lib' || side === 'lib-warn' || side === 'lib-no-metrics' || side === 'lib-queues';
  // Job n goes to queue n mod the number of queues.
  const taskNames = several ? [NAMES.noop, ...EXTRA_QUEUES.map((queue) => queuedNoopName(queue))] : [NAMES.noop];
  const role = isLib ? 'lib-worker' : side === 'nest-bullmq' || side === 'nest-bullmq-log' ? 'nest-bullmq-worker' : 'plain-worker';
  const workersStarting = Array.from({ length: processes }, (_, i) => ctx.startRole(role, env, `${label}-w${i + 1}`));
  const prefill = async () => {
    if (isLib) {
      // Jobs as the library makes them (its attempts and backoff options).
      const { app, client } = await ctx.clientApp(prefix);
      for (let from = 0; from < jobs; from += BATCH) {
        const items: EnqueueManyItem[] = Array.from({ length: BATCH }, (_, i) => ({ name: taskNames[(from + i) % taskNames.length] as string, payload: { n: from + i } }));
        await client.enqueueMany(items);
      }
      await app.close();
    } else {
      // Plain BullMQ and @nestjs/bullmq: the same jobs, with the policy's options set by hand.
      const opts = plainSettings(policy).job;
      for (let from = 0; from < jobs; from += BATCH) {
        await Promise.all(
          queues.map((queue, q) =>
            queue.addBulk(
              Array.from({ length: BATCH }, (_, i) => from + i)
                .filter((n) => n % queues.length === q)
                .map((n) => ({ name: taskNames[q] as string, data: { n }, opts })),
            ),
          ),
        );
      }
    }
  };
  const [started, filled] = await Promise.allSettled([Promise.all(workersStarting), prefill()]);
  if (started.status === 'rejected' || filled.status === 'rejected') {
    // Nothing of a failed side may outlive it: its workers, its queues, its keys.
    const workers = await Promise.allSettled(workersStarting);
    await Promise.allSettled(workers.flatMap((w) => (w.status === 'fulfilled' ? [w.value.stop()] : [])));
    await Promise.allSettled(queues.map((queue) => queue.close()));
    await ctx.deletePrefix(prefix);
    throw started.status === 'rejected' ? started.reason : (filled as PromiseRejectedResult).reason;
  }
  const workers = started.value;
  const waiting = await count(queues, 'wait');
  if (waiting !== jobs) throw new Error(`${label}: expected ${jobs} waiting jobs, found ${waiting}`);
  return { label, queues, workers };
}

/** How many sides boot and pre-fill at once: all of them at once (up to 20 processes and 200,000 jobs) overloaded two cores. */
const PREPARING_AT_ONCE = 2;

/** Prepares the sides a few at a time; if one fails, tears down those already prepared before failing. */
async function prepareAll(ctx: BenchContext, sides: Side[], label: string, jobs: number, concurrency: number, processes: number): Promise<Prepared[]> {
  const prepared: Prepared[] = [];
  for (let from = 0; from < sides.length; from += PREPARING_AT_ONCE) {
    const batch = sides.slice(from, from + PREPARING_AT_ONCE);
    const settled = await Promise.allSettled(batch.map((side) => prepare(ctx, side, `${label}-${side}`, jobs, concurrency, processes)));
    for (const result of settled) if (result.status === 'fulfilled') prepared.push(result.value);
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) {
      await Promise.allSettled(prepared.map((p) => teardown(ctx, p)));
      throw failed.reason;
    }
  }
  return prepared;
}

/** How many turns each side takes per round: the sides alternate, so a drift of the machine hits all of them alike. */
const SLICES = 5;

interface Totals {
  ms: number;
  jobs: number;
  workerCpuMs: number;
  redisCpuMs: number;
  workerIoCalls: number;
}

const cpuMs = (workers: RoleProcess[]) => workers.reduce((sum, w) => sum + w.cpuMs(), 0);
const ioCalls = (workers: RoleProcess[]) => workers.reduce((sum, w) => sum + w.ioCalls(), 0);

async function until(probe: () => Promise<boolean>): Promise<void> {
  while (!(await probe())) await sleep(2);
}

/**
 * One turn of one side: resumes its queue until `count` more jobs have been
 * taken (all that are left on the last turn), pauses it and waits for the
 * running ones to finish. Boot time is not counted.
 */
async function turn(ctx: BenchContext, { queues, workers }: Prepared, share: number, last: boolean, into: Totals): Promise<void> {
  const waiting = () => count(queues, 'wait', 'prioritized');
  const before = await waiting();
  const stopAt = last ? 0 : Math.max(before - share, 0);
  const cpu0 = cpuMs(workers);
  const io0 = ioCalls(workers);
  const redis0 = await ctx.redisCpuMs();
  const started = preciseNow();
  await Promise.all(queues.map((queue) => queue.resume()));
  await until(async () => (await waiting()) <= stopAt);
  if (!last) await Promise.all(queues.map((queue) => queue.pause()));
  await until(async () => (await count(queues, 'active')) === 0);
  into.ms += preciseNow() - started;
  into.jobs += before - (await waiting());
  into.workerCpuMs += cpuMs(workers) - cpu0;
  into.workerIoCalls += ioCalls(workers) - io0;
  into.redisCpuMs += (await ctx.redisCpuMs()) - redis0;
}

/** Runs every side's jobs in SLICES alternating turns (A B C, C B A, ...) and sums each side's turns. */
async function run(ctx: BenchContext, prepared: Prepared[], jobs: number): Promise<RunResult[]> {
  const totals = prepared.map((): Totals => ({ ms: 0, jobs: 0, workerCpuMs: 0, redisCpuMs: 0, workerIoCalls: 0 }));
  for (let slice = 0; slice < SLICES; slice++) {
    const order = slice % 2 === 0 ? [...prepared.keys()] : [...prepared.keys()].reverse();
    for (const i of order) await turn(ctx, prepared[i] as Prepared, jobs / SLICES, slice === SLICES - 1, totals[i] as Totals);
  }
  return Promise.all(
    prepared.map(async ({ label, queues }, i) => {
      const t = totals[i] as Totals;
      const failed = await count(queues, 'failed');
      if (failed > 0) throw new Error(`${label}: ${failed} jobs failed`);
      if (t.jobs !== jobs) throw new Error(`${label}: ran ${t.jobs} jobs, expected ${jobs}`);
      return {
        rate: (t.jobs * 1_000) / t.ms,
        workerCpuUs: (t.workerCpuMs * 1_000) / t.jobs,
        redisCpuUs: (t.redisCpuMs * 1_000) / t.jobs,
        workerIoCalls: t.workerIoCalls / t.jobs,
      };
    }),
  );
}

async function teardown(ctx: BenchContext, { queues, workers }: Prepared): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
  const prefix = queues[0]?.opts.prefix as string;
  await Promise.all(queues.map((queue) => queue.close()));
  await ctx.deletePrefix(prefix);
}

/**
 * Scenario 2: no-op tasks through `runWorker` (child processes booted like
 * apps/worker) vs a plain BullMQ Worker and vs an @nestjs/bullmq WorkerHost,
 * at concurrency 1, 10 and 50, in one and in two processes.
 */
export async function processingScenario(ctx: BenchContext): Promise<MetricRow[]> {
  const jobs = ctx.settings.quick ? 2_000 : 20_000;
  const rows: MetricRow[] = [];
  // BENCH_PROCESSING=10x1,50x2 runs only those configurations (for investigations).
  const only = process.env.BENCH_PROCESSING ? process.env.BENCH_PROCESSING.split(',') : undefined;
  for (const { concurrency, processes } of CONFIGS.filter((c) => !only || only.includes(`${c.concurrency}x${c.processes}`))) {
    const withReferences = `${concurrency}x${processes}` === REFERENCE_CONFIG;
    const sides: Side[] = withReferences ? [...EVERY_CONFIG, ...REFERENCE_ONLY] : [...EVERY_CONFIG];
    const results = Object.fromEntries([...EVERY_CONFIG, ...REFERENCE_ONLY].map((side) => [side, [] as RunResult[]])) as Record<Side, RunResult[]>;
    for (let round = 1; round <= ctx.settings.rounds; round++) {
      const label = `proc-c${concurrency}x${processes}-r${round}`;
      const prepared = await prepareAll(ctx, sides, label, jobs, concurrency, processes);
      await sleep(300);
      const ran = await run(ctx, round % 2 === 1 ? prepared : [...prepared].reverse(), jobs);
      // run() got the sides in reverse on even rounds, so that none always goes first.
      (round % 2 === 1 ? ran : ran.reverse()).forEach((result, i) => results[sides[i] as Side].push(result));
      await Promise.all(prepared.map((p) => teardown(ctx, p)));
      const last = (side: Side) => results[side].at(-1) as RunResult;
      const ratio = (a: Side, b: Side) => (last(a).rate / last(b).rate).toFixed(2);
      const cpu = (side: Side) => last(side).workerCpuUs.toFixed(0);
      progress(
        `processing c${concurrency}×${processes} round ${round}: jobs/s ${EVERY_CONFIG.map((side) => `${side} ${last(side).rate.toFixed(0)}`).join(', ')}; ` +
          `lib/plain-log ${ratio('lib', 'plain-log')}, lib/nest-bullmq-log ${ratio('lib', 'nest-bullmq-log')}, lib-warn/plain ${ratio('lib-warn', 'plain')}; ` +
          `worker CPU/job µs ${EVERY_CONFIG.map((side) => `${side} ${cpu(side)}`).join(', ')}` +
          (withReferences
            ? `; plain with BullMQ's defaults ${last('plain-defaults').rate.toFixed(0)}, library without metrics ${last('lib-no-metrics').rate.toFixed(0)} jobs/s; ` +
              `across ${SEVERAL_QUEUES.length} queues library ${last('lib-queues').rate.toFixed(0)} vs plain ${last('plain-queues').rate.toFixed(0)} jobs/s ` +
              `(CPU/job worker ${cpu('lib-queues')} vs ${cpu('plain-queues')} µs)`
            : ''),
      );
    }
    const { lib, plain: base, 'nest-bullmq': peer, 'plain-log': plainLog, 'nest-bullmq-log': peerLog, 'lib-warn': quiet } = results;
    const scenario = '2 processing';
    const config = `concurrency ${concurrency} × ${processes} process${processes > 1 ? 'es' : ''}`;
    const section = `Processing, ${jobs} no-op tasks: ratios, median (min–max) over ${ctx.settings.rounds} round(s)`;
    const rate = (results: RunResult[]) => results.map((r) => r.rate);
    const workerCpu = (results: RunResult[]) => results.map((r) => r.workerCpuUs);
    const redisCpu = (results: RunResult[]) => results.map((r) => r.redisCpuUs);
    const workerIo = (results: RunResult[]) => results.map((r) => r.workerIoCalls);
    const ratioCell = (column: string): SummaryCell => ({ section, row: config, column, show: 'ratio', target: true });
    // The steadier figure when the machine is busy: throughput moves with what else runs, CPU per job much less.
    const cpuCell = (column: string): SummaryCell => ({ section, row: config, column, show: 'ratio' });
    rows.push(
      inSummary(
        withTarget(
          row({ scenario, metric: `${jobs} no-op tasks, library vs plain BullMQ logging the same two lines per task, ${config}`, unit: 'jobs/s', better: 'higher' }, rate(lib), rate(plainLog)),
          'ratio ≥ 0.97',
          (m) => (m.ratio?.median ?? 0) >= 0.97,
        ),
        ratioCell('lib / plain BullMQ + the same lines (target ≥ 0.97)'),
      ),
      inSummary(
        row({ scenario, metric: `  worker CPU per job, library vs plain BullMQ + lines, ${config}`, unit: 'µs', better: 'lower' }, workerCpu(lib), workerCpu(plainLog)),
        cpuCell('worker CPU per job, lib / plain + lines'),
      ),
      row({ scenario, metric: `  Redis CPU per job, library vs plain BullMQ + lines, ${config}`, unit: 'µs', better: 'lower' }, redisCpu(lib), redisCpu(plainLog)),
      row({ scenario, metric: `  worker read(2) + write(2) calls per job, library vs plain BullMQ + lines, ${config}`, unit: 'calls', better: 'lower' }, workerIo(lib), workerIo(plainLog)),
      inSummary(
        withTarget(
          row({ scenario, metric: `library vs @nestjs/bullmq WorkerHost logging the same two lines, ${config}`, unit: 'jobs/s', better: 'higher' }, rate(lib), rate(peerLog)),
          'ratio ≥ 1.00',
          (m) => (m.ratio?.median ?? 0) >= 1,
        ),
        ratioCell('lib / WorkerHost + the same lines (target ≥ 1.00)'),
      ),
      inSummary(
        row({ scenario, metric: `  worker CPU per job, library vs WorkerHost + lines, ${config}`, unit: 'µs', better: 'lower' }, workerCpu(lib), workerCpu(peerLog)),
        cpuCell('worker CPU per job, lib / WorkerHost + lines'),
      ),
      inSummary(
        withTarget(
          row({ scenario, metric: `library at LOG_LEVEL=warn (no per-task lines) vs bare plain BullMQ, ${config}`, unit: 'jobs/s', better: 'higher' }, rate(quiet), rate(base)),
          'ratio ≥ 0.95',
          (m) => (m.ratio?.median ?? 0) >= 0.95,
        ),
        ratioCell('lib at LOG_LEVEL=warn / bare plain BullMQ (target ≥ 0.95)'),
      ),
      inSummary(
        row({ scenario, metric: `  worker CPU per job, library at LOG_LEVEL=warn vs bare plain BullMQ, ${config}`, unit: 'µs', better: 'lower' }, workerCpu(quiet), workerCpu(base)),
        cpuCell('worker CPU per job, lib at warn / bare plain'),
      ),
      row({ scenario, metric: `  Redis CPU per job, library at LOG_LEVEL=warn vs bare plain BullMQ, ${config}`, unit: 'µs', better: 'lower' }, redisCpu(quiet), redisCpu(base)),
      row({ scenario, metric: `  worker read(2) + write(2) calls per job, library at LOG_LEVEL=warn vs bare plain BullMQ, ${config}`, unit: 'calls', better: 'lower' }, workerIo(quiet), workerIo(base)),
      row({ scenario, metric: `  library (with its lines) vs bare plain BullMQ, ${config}`, unit: 'jobs/s', better: 'higher' }, rate(lib), rate(base)),
      row({ scenario, metric: `  library (with its lines) vs bare WorkerHost, ${config}`, unit: 'jobs/s', better: 'higher' }, rate(lib), rate(peer)),
      row({ scenario, metric: `  plain BullMQ: with the two lines vs without, ${config}`, unit: 'jobs/s', better: 'higher' }, rate(plainLog), rate(base)),
      row({ scenario, metric: `  worker CPU per job, plain BullMQ with the two lines vs without, ${config}`, unit: 'µs', better: 'lower' }, workerCpu(plainLog), workerCpu(base)),
    );
    if (withReferences) {
      const bare = results['plain-defaults'];
      const unmetered = results['lib-no-metrics'];
      const acrossLib = results['lib-queues'];
      const acrossPlain = results['plain-queues'];
      const several = SEVERAL_QUEUES.length;
      const plainLayoutRatio = median(acrossPlain.map((r, i) => r.workerCpuUs / (base[i] as RunResult).workerCpuUs));
      rows.push(
        withTarget(
          row(
            { scenario, metric: `  library with its metrics (the default) vs TASKS_METRICS=false, ${config}`, unit: 'jobs/s', better: 'higher' },
            lib.map((r) => r.rate),
            unmetered.map((r) => r.rate),
          ),
          'ratio ≥ 0.97',
          (m) => (m.ratio?.median ?? 0) >= 0.97,
        ),
        row(
          { scenario, metric: `  worker CPU per job, with metrics vs TASKS_METRICS=false, ${config}`, unit: 'µs', better: 'lower' },
          lib.map((r) => r.workerCpuUs),
          unmetered.map((r) => r.workerCpuUs),
        ),
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
        withTarget(
          row(
            { scenario, metric: `  across ${several} queues (concurrency ${CONCURRENCY_PER_QUEUE} each), library vs plain BullMQ`, unit: 'jobs/s', better: 'higher' },
            acrossLib.map((r) => r.rate),
            acrossPlain.map((r) => r.rate),
          ),
          'ratio ≥ 0.95',
          (m) => (m.ratio?.median ?? 0) >= 0.95,
        ),
        withTarget(
          row(
            { scenario, metric: `  library worker CPU per job, across ${several} queues vs one queue, ${config}`, unit: 'µs', better: 'lower' },
            acrossLib.map((r) => r.workerCpuUs),
            lib.map((r) => r.workerCpuUs),
          ),
          // The plain workers' same ratio is the yardstick: BullMQ's own cost moves with the layout.
          `ratio ≤ plain's ${plainLayoutRatio.toFixed(2)} + 0.05`,
          (m) => (m.ratio?.median ?? Infinity) <= plainLayoutRatio + 0.05,
        ),
        row(
          { scenario, metric: `  plain worker CPU per job, across ${several} queues vs one queue, ${config}`, unit: 'µs', better: 'lower' },
          acrossPlain.map((r) => r.workerCpuUs),
          base.map((r) => r.workerCpuUs),
        ),
      );
    }
  }
  return rows;
}
