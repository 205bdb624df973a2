import { Queue } from 'bullmq';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { NAMES, type CronSample } from '../shared/protocol.js';
import type { BenchContext } from '../orchestrator/context.js';
import type { RoleProcess } from '../orchestrator/children.js';
import { inSummary, row, withTarget, type MetricRow } from '../orchestrator/results.js';
import { quantile } from '../orchestrator/stats.js';
import { progress } from '../orchestrator/progress.js';
import { CRON_QUEUE } from '#nestjs-tasks-internal';

/** What one tick cost, ms; undefined where the side has no such step. */
interface Tick {
  tick: number;
  /** Nominal tick → handler start. */
  delay: number;
  /** BullMQ processedOn (the worker took the job) → handler start. */
  pickup: number;
  /** Handler return → BullMQ finishedOn (the job is completed in Redis); library only (the plain handler does its raw lock and record after its end stamp). */
  toFinished: number;
  /** Library: cron run pipeline start → handler start (lock acquire + RUNNING row). */
  before?: number;
  /** Library: handler return → cron run pipeline done (COMPLETED row + lock release). */
  after?: number;
  /** Library: handler return → the row's completed_at. */
  toRow?: number;
  /** Plain: the same lock and run record done by hand with the raw drivers. */
  rawBefore?: number;
  rawAfter?: number;
}

interface SideResult {
  ticks: Tick[];
  /** Ticks of the window that never ran, and runs beyond one per tick. */
  lost: number;
  duplicated: number;
}

interface Side {
  label: string;
  prefix: string;
  worker: RoleProcess;
  schedulers: RoleProcess[];
  schema?: string;
}

async function collect(ctx: BenchContext, side: Side, windowStart: number, windowEnd: number): Promise<SideResult> {
  const inWindow = (s: CronSample) => s.tick >= windowStart && s.tick < windowEnd;
  const samples = (await side.worker.report()).cron.filter(inWindow);
  const expected = (windowEnd - windowStart) / 1_000;
  const distinct = new Set(samples.map((s) => s.tick));
  const queue = new Queue(CRON_QUEUE, { connection: ctx.connection, prefix: side.prefix });
  const rows = new Map<number, number>();
  if (side.schema) {
    const found = await ctx.query<{ tick: string; completed: string | null }>(
      `SELECT extract(epoch FROM scheduled_at) * 1000 AS tick, extract(epoch FROM completed_at) * 1000 AS completed
         FROM ${pg.escapeIdentifier(side.schema)}.cron_job_runs
        WHERE job_name = $1 AND status = 'COMPLETED'
          AND scheduled_at >= to_timestamp($2::double precision / 1000) AND scheduled_at < to_timestamp($3::double precision / 1000)`,
      [NAMES.cron, windowStart, windowEnd],
    );
    for (const r of found) if (r.completed !== null) rows.set(Math.round(Number(r.tick)), Number(r.completed));
  }
  const ticks: Tick[] = [];
  for (const s of samples) {
    const jobId = side.schema ? `${NAMES.cron}@${s.tick}` : `repeat:${NAMES.cron}:${s.tick}`;
    const job = await queue.getJob(jobId);
    if (!job?.processedOn || !job.finishedOn) throw new Error(`${side.label}: job ${jobId} not found finished in Redis`);
    const completed = rows.get(s.tick);
    ticks.push({
      tick: s.tick,
      delay: s.handlerStart - s.tick,
      pickup: s.handlerStart - job.processedOn,
      toFinished: job.finishedOn - s.handlerEnd,
      ...(s.rawBefore !== undefined ? { rawBefore: s.rawBefore, rawAfter: s.rawAfter } : {}),
      ...(s.chainStart !== undefined && s.chainEnd !== undefined
        ? { before: s.handlerStart - s.chainStart, after: s.chainEnd - s.handlerEnd }
        : {}),
      ...(completed !== undefined ? { toRow: completed - s.handlerEnd } : {}),
    });
  }
  await queue.close();
  if (side.schema && rows.size !== distinct.size) throw new Error(`${side.label}: ${distinct.size} runs but ${rows.size} COMPLETED rows`);
  return { ticks, lost: expected - distinct.size, duplicated: samples.length - distinct.size };
}

/**
 * Scenario 4: an every-second cron job, from the nominal tick to the handler
 * start, with 1 and then with 3 library schedulers (each with its own prefix
 * and Postgres schema), each side by side with a plain BullMQ job scheduler;
 * and what the lock and the run record add per run, next to the same lock and
 * record done by hand with the raw drivers in the plain baseline: the same
 * statements on the library's own tables (the claim with its pause check and
 * fencing token, the fenced outcome), so that the ratio is the library's own cost.
 */
export async function cronScenario(ctx: BenchContext): Promise<MetricRow[]> {
  const ticksPerPhase = ctx.settings.quick ? 3 : Math.ceil(60 / ctx.settings.rounds);
  const schemas = { one: await ctx.freshSchema('cron1'), three: await ctx.freshSchema('cron3') };
  // The by-hand baseline writes the library's own tables, with the library's statements.
  const rawSchema = await ctx.freshSchema('cronraw');
  const results: Record<'one' | 'three' | 'plain', SideResult[]> = { one: [], three: [], plain: [] };
  for (let round = 1; round <= ctx.settings.rounds; round++) {
    const plainOfRound: SideResult[] = [];
    // The two library configurations run one after the other (ticks of both at the
    // same instants would compete for the two cores and Postgres' WAL flush), each
    // next to its own plain BullMQ job scheduler, which costs next to nothing.
    for (const key of ['one', 'three'] as const) {
      const schedulerCount = key === 'one' ? 1 : 3;
      const label = `cron-r${round}-lib${schedulerCount}`;
      const prefix = ctx.prefix(label);
      const plainPrefix = ctx.prefix(`${label}-plain`);
      const libEnv = { TASKS_PREFIX: prefix, DATABASE_URL: ctx.databaseUrl, DATABASE_SCHEMA: schemas[key] };
      const [worker, plain] = await Promise.all([
        ctx.startRole('lib-cron-worker', libEnv, `${label}-worker`),
        ctx.startRole('plain-cron', { TASKS_PREFIX: plainPrefix, DATABASE_URL: ctx.databaseUrl, BENCH_RAW_SCHEMA: rawSchema }, `${label}-plain`),
      ]);
      const schedulers = await Promise.all(
        Array.from({ length: schedulerCount }, (_, i) => ctx.startRole('lib-scheduler', libEnv, `${label}-scheduler${i + 1}`)),
      );
      // Let boot and the first ticks pass (the library fires the tick just before its start, by design).
      const windowStart = Math.ceil((Date.now() + 1_500) / 1_000) * 1_000;
      const windowEnd = windowStart + ticksPerPhase * 1_000;
      await sleep(windowEnd - Date.now() + 1_500);
      results[key].push(
        await collect(ctx, { label, prefix, worker, schedulers, schema: schemas[key] }, windowStart, windowEnd),
      );
      plainOfRound.push(await collect(ctx, { label: `${label}-plain`, prefix: plainPrefix, worker: plain, schedulers: [] }, windowStart, windowEnd));
      await Promise.all(schedulers.map((s) => s.stop()));
      await Promise.all([worker.stop(), plain.stop()]);
      await Promise.all([ctx.deletePrefix(prefix), ctx.deletePrefix(plainPrefix)]);
    }
    results.plain.push({
      ticks: plainOfRound.flatMap((r) => r.ticks),
      lost: plainOfRound.reduce((sum, r) => sum + r.lost, 0),
      duplicated: plainOfRound.reduce((sum, r) => sum + r.duplicated, 0),
    });
    const p = (key: 'one' | 'three' | 'plain', q: number) => quantile(results[key][round - 1].ticks.map((t) => t.delay), q).toFixed(1);
    progress(
      `cron round ${round} (${ticksPerPhase} ticks each): tick → start p50/p99 1 scheduler ${p('one', 0.5)}/${p('one', 0.99)} ms, ` +
        `3 schedulers ${p('three', 0.5)}/${p('three', 0.99)} ms, plain ${p('plain', 0.5)}/${p('plain', 0.99)} ms`,
    );
  }
  return cronRows(results, ticksPerPhase * ctx.settings.rounds);
}

function cronRows(results: Record<'one' | 'three' | 'plain', SideResult[]>, totalTicks: number): MetricRow[] {
  const scenario = '4 cron';
  const all = (key: 'one' | 'three' | 'plain') => results[key].flatMap((r) => r.ticks);
  const perRound = (key: 'one' | 'three' | 'plain', pick: (t: Tick) => number | undefined, q: number) =>
    results[key].map((r) => quantile(r.ticks.map(pick).filter((v): v is number => v !== undefined), q));
  const pooled = (key: 'one' | 'three' | 'plain', pick: (t: Tick) => number | undefined, q: number) => [
    quantile(all(key).map(pick).filter((v): v is number => v !== undefined), q),
  ];
  const delay = (t: Tick) => t.delay;
  const lockAndTracking = (t: Tick) => (t.before !== undefined && t.after !== undefined ? t.before + t.after : undefined);
  const byHand = (t: Tick) => (t.rawBefore !== undefined && t.rawAfter !== undefined ? t.rawBefore + t.rawAfter : undefined);
  // A hand-made cron's handler would start after its lock and RUNNING row: the
  // plain job scheduler's tick → start plus the same two steps done by hand.
  const handMade = (t: Tick) => (t.rawBefore !== undefined ? t.delay + t.rawBefore : undefined);
  const section = `Cron, every-second job, ${totalTicks} ticks per configuration (plain: a BullMQ job scheduler; by hand: the same lock and run record with the raw drivers)`;
  const rows: MetricRow[] = [];
  for (const [key, name] of [['one', '1 scheduler'], ['three', '3 schedulers']] as const) {
    rows.push(
      row({ scenario, metric: `tick → handler start p50, ${name} (per round)`, unit: 'ms', better: 'lower' }, perRound(key, delay, 0.5), perRound('plain', delay, 0.5)),
      row({ scenario, metric: `tick → handler start p99, ${name} (per round)`, unit: 'ms', better: 'lower' }, perRound(key, delay, 0.99), perRound('plain', delay, 0.99)),
      row({ scenario, metric: `tick → handler start p50, ${name}, all ${totalTicks} ticks`, unit: 'ms', better: 'lower' }, pooled(key, delay, 0.5), pooled('plain', delay, 0.5)),
      inSummary(
        withTarget(
          row({ scenario, metric: `tick → handler start p99, ${name}, all ${totalTicks} ticks`, unit: 'ms', better: 'lower' }, pooled(key, delay, 0.99), pooled('plain', delay, 0.99)),
          'library < 25 ms',
          (m) => m.library.median < 25,
        ),
        { section, row: name, column: 'tick → handler start p99, ms (target < 25)', show: 'library', target: true },
        { section, row: name, column: 'p99 / plain job scheduler', show: 'ratio' },
      ),
      inSummary(
        row(
          { scenario, metric: `  tick → handler start p99, ${name}, vs a hand-made cron (plain job scheduler + lock and RUNNING row by hand)`, unit: 'ms', better: 'lower' },
          pooled(key, delay, 0.99),
          pooled('plain', handMade, 0.99),
        ),
        { section, row: name, column: 'p99 / hand-made floor', show: 'ratio' },
      ),
      row(
        { scenario, metric: `  tick → handler start p50, ${name}, vs a hand-made cron`, unit: 'ms', better: 'lower' },
        pooled(key, delay, 0.5),
        pooled('plain', handMade, 0.5),
      ),
    );
  }
  for (const [key, name] of [['one', '1 scheduler'], ['three', '3 schedulers']] as const) {
    rows.push(
      inSummary(
        withTarget(
          row(
            { scenario, metric: `lock + tracking per run p50, ${name} (plain: same by hand)`, unit: 'ms', better: 'lower' },
            pooled(key, lockAndTracking, 0.5),
            pooled('plain', byHand, 0.5),
          ),
          'ratio ≤ 1.10',
          (m) => (m.ratio?.median ?? Infinity) <= 1.1,
        ),
        { section, row: name, column: 'lock + tracking p50, ms', show: 'library' },
        { section, row: name, column: 'same by hand p50, ms', show: 'baseline' },
        { section, row: name, column: 'lock + tracking / by hand (target ≤ 1.10)', show: 'ratio', target: true },
      ),
      row(
        { scenario, metric: `  lock + tracking per run p99, ${name}`, unit: 'ms', better: 'lower' },
        pooled(key, lockAndTracking, 0.99),
        pooled('plain', byHand, 0.99),
      ),
      row(
        { scenario, metric: `  before handler (lock, RUNNING row) p50, ${name}`, unit: 'ms', better: 'lower' },
        pooled(key, (t) => t.before, 0.5),
        pooled('plain', (t) => t.rawBefore, 0.5),
      ),
      row(
        { scenario, metric: `  after handler (COMPLETED row, unlock) p50, ${name}`, unit: 'ms', better: 'lower' },
        pooled(key, (t) => t.after, 0.5),
        pooled('plain', (t) => t.rawAfter, 0.5),
      ),
    );
  }
  rows.push(
    row(
      { scenario, metric: 'worker pickup (processedOn) → handler start p50, 1 scheduler', unit: 'ms', better: 'lower' },
      pooled('one', (t) => t.pickup, 0.5),
      pooled('plain', (t) => t.pickup, 0.5),
    ),
    row({ scenario, metric: 'handler return → row COMPLETED (completed_at) p50, 1 scheduler', unit: 'ms', better: 'lower' }, pooled('one', (t) => t.toRow, 0.5)),
    row({ scenario, metric: 'handler return → job finished (finishedOn) p50, 1 scheduler', unit: 'ms', better: 'lower' }, pooled('one', (t) => t.toFinished, 0.5)),
  );
  const count = (key: 'one' | 'three' | 'plain', pick: (r: SideResult) => number) => results[key].reduce((sum, r) => sum + pick(r), 0);
  for (const [key, name] of [['one', '1 scheduler'], ['three', '3 schedulers']] as const) {
    rows.push(
      withTarget(
        row({ scenario, metric: `ticks lost + duplicated of ${totalTicks}, ${name}`, unit: 'ticks', better: 'lower' }, [count(key, (r) => r.lost + r.duplicated)], [
          count('plain', (r) => r.lost + r.duplicated),
        ]),
        'library 0',
        (m) => m.library.median === 0,
      ),
    );
  }
  return rows;
}
