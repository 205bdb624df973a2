import { describe, expect, it } from 'vitest';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { TestingModule } from '@nestjs/testing';
import { CronRegistry } from 'nestjs-tasks';
import { CronMaintenance, CronRunStore } from '#nestjs-tasks-internal';
import { databaseOptions } from '@app/jobs';
import { cronScenarios, duplicated, iso, missingTicks, type CronRunRow, type CronScenario } from '../support/cron.js';
import { createTasksApp } from '../support/in-process.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

const completed = (rows: CronRunRow[]) => rows.filter((row) => row.status === 'COMPLETED');

interface ScheduleRow {
  namespace: string;
  name: string;
  paused: boolean;
  paused_reason: string | null;
  paused_by: string | null;
  removed_at: Date | null;
  last_tick_at: Date | null;
}

const schedules = async (s: CronScenario, namespace = s.prefix) =>
  (await s.schema.dataSource.query(`SELECT * FROM cron_schedules WHERE namespace = $1 ORDER BY name`, [namespace])) as ScheduleRow[];

/** An in-process app on the scenario's prefix and schema: the registry and maintenance as an operator's app sees them. */
async function operatorApp(s: CronScenario, prefix = s.prefix, extra: Record<string, number> = {}): Promise<TestingModule> {
  @Module({ imports: [TypeOrmModule.forRoot(databaseOptions({ ...process.env, ...s.schema.env }))] })
  class OperatorDatabaseModule {}
  return createTasksApp({ tasks: { prefix, ...extra }, imports: [OperatorDatabaseModule] });
}

// Real scheduler and worker processes (test/fixtures/cron-fixture) on Redis and Postgres.
describe('schedules as data (cron_schedules)', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it.concurrent('schedulers booting at once reconcile one row per cron; a cron removed from the code is marked removed', async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_reconcile', { onTestFinished, onTestFailed });
    const booted = await Promise.all([1, 2, 3].map(() => s.startScheduler(['tick', 'manual'])));
    const rows = await schedules(s);
    expect(rows.map((row) => row.name)).toEqual(['fixture.manual', 'fixture.tick', 'tasks.pruneCronRuns', 'tasks.sweepLostRuns']);
    expect(rows.every((row) => row.removed_at === null && !row.paused)).toBe(true);
    const tick = rows.find((row) => row.name === 'fixture.tick') as unknown as Record<string, unknown>;
    expect(tick).toMatchObject({ expression: '* * * * * *', time_zone: 'UTC', catch_up: 'skip', overlap: 'skip', internal: false });

    // One replica redeploys without fixture.manual: it is marked removed, the others untouched.
    await s.stop(booted[0]);
    await s.startScheduler(['tick']);
    const after = await schedules(s);
    expect(after.filter((row) => row.removed_at !== null).map((row) => row.name)).toEqual(['fixture.manual']);
    expect(after).toHaveLength(4);
    // Back in the code: no longer removed.
    await s.startScheduler(['tick', 'manual']);
    expect((await schedules(s)).filter((row) => row.removed_at !== null)).toEqual([]);
  });

  it.concurrent('a pause through the registry stops every scheduler replica from the next tick; resume starts it again; the paused ticks get no row', async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_pause', { onTestFinished, onTestFailed });
    await s.startWorker(['tick', 'slow']);
    await Promise.all([s.startScheduler(['tick', 'slow']), s.startScheduler(['tick', 'slow'])]);
    await s.waitForRuns('fixture.tick', (rows) => completed(rows).length >= 2, '2 runs of fixture.tick');
    const app = await operatorApp(s);
    onTestFinished(() => app.close());
    const registry = app.get(CronRegistry);

    const paused = await registry.pause('fixture.tick', { reason: 'nightly maintenance', by: 'the test' });
    const pausedAt = Date.now();
    expect(paused).toMatchObject({ name: 'fixture.tick', paused: { reason: 'nightly maintenance', by: 'the test', since: expect.any(Date) } });
    expect(paused.nextTicks).toHaveLength(5);
    expect((await schedules(s)).find((row) => row.name === 'fixture.tick')).toMatchObject({ paused: true, paused_reason: 'nightly maintenance', paused_by: 'the test' });
    // fixture.slow keeps going: wait until it has ticks 3 s past the pause.
    await s.waitForRuns('fixture.slow', (rows) => rows.some((row) => row.scheduledAt > pausedAt + 3_000), 'fixture.slow to go on for 3 s');
    const whilePaused = (await s.runs('fixture.tick')).filter((row) => row.scheduledAt > pausedAt + 1_000);
    expect(whilePaused.map((row) => `${iso(row.scheduledAt)} ${row.status}`)).toEqual([]);

    const listed = (await registry.list()).find((cron) => cron.name === 'fixture.tick');
    expect(listed?.paused?.reason).toBe('nightly maintenance');
    expect(listed?.lastRun?.status).toBe('COMPLETED');

    const resumed = await registry.resume('fixture.tick');
    const resumedAt = Date.now();
    expect(resumed.paused).toBeNull();
    const rows = await s.waitForRuns('fixture.tick', (all) => completed(all).some((row) => row.scheduledAt > resumedAt), 'a run after resume');
    // The ticks of the pause were not replayed nor recorded (a backup replica fires a tick up to
    // half a second late, so the tick just before the resume may still run).
    expect(rows.filter((row) => row.scheduledAt > pausedAt + 1_000 && row.scheduledAt < resumedAt - 1_000)).toEqual([]);
    await expect(registry.pause('fixture.nope')).rejects.toThrow('Unknown cron job "fixture.nope"');
  });
});

describe('two deployments (prefixes) in one database schema', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it.concurrent("never touch each other's runs, schedules or sweeps", async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_ns', { onTestFinished, onTestFailed });
    const other = uniquePrefix('cron_ns_b');
    onTestFinished(() => deletePrefix(other));
    const fast = { TASKS_CRON_SWEEP_MS: '1000' };
    // Namespace A: fixture.tick only, sweeping every second. Namespace B: fixture.tick and a 6 s fixture.long (lockTtl 3 s).
    await s.startWorker(['tick'], { env: fast, name: 'worker-a' });
    await s.startScheduler(['tick'], { env: fast, name: 'scheduler-a' });
    const bEnv = { ...fast, TASKS_PREFIX: other, FIXTURE_LONG_MS: '6000' };
    await s.startWorker(['tick', 'long'], { env: bEnv, name: 'worker-b' });
    await s.startScheduler(['tick', 'long'], { env: bEnv, name: 'scheduler-b' });

    const longRuns = await s.poll(
      async () => {
        const rows = (await s.runs('fixture.long', other)).filter((row) => row.status === 'COMPLETED');
        return rows.length >= 2 ? rows : undefined;
      },
      { what: 'two completed runs of fixture.long in namespace B', timeoutMs: 60_000 },
    );
    expect(longRuns.every((row) => row.namespace === other)).toBe(true);
    await Promise.all(s.processes.filter((app) => app.name.startsWith('scheduler')).map((app) => s.stop(app)));
    await s.poll(async () => (await s.runs(undefined, s.prefix)).concat(await s.runs(undefined, other)).every((r) => r.status !== 'RUNNING'), {
      what: 'no RUNNING rows',
    });

    for (const namespace of [s.prefix, other]) {
      const ticks = await s.runs('fixture.tick', namespace);
      expect(ticks.length, namespace).toBeGreaterThan(3);
      expect(missingTicks(ticks).map(iso), namespace).toEqual([]);
      expect(duplicated(ticks).map(iso), namespace).toEqual([]);
      // Same job, same ticks in both namespaces: each ran in its own, none was a duplicate of the other's.
      expect(ticks.filter((row) => row.status !== 'COMPLETED' && row.status !== 'SKIPPED'), namespace).toEqual([]);
    }
    // A's sweep never marked B's long runs lost.
    expect((await s.runs('fixture.long', other)).filter((row) => row.status === 'FAILED')).toEqual([]);
    expect((await schedules(s)).map((row) => [row.name, row.removed_at])).toEqual([
      ['fixture.tick', null],
      ['tasks.pruneCronRuns', null],
      ['tasks.sweepLostRuns', null],
    ]);
    expect((await schedules(s, other)).map((row) => [row.name, row.removed_at])).toEqual([
      ['fixture.long', null],
      ['fixture.tick', null],
      ['tasks.pruneCronRuns', null],
      ['tasks.sweepLostRuns', null],
    ]);
  });

  it('the retention prune deletes in bounded batches, only old finished rows of its own namespace', async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_prune', { onTestFinished, onTestFailed });
    const other = uniquePrefix('cron_prune_b');
    const db = s.schema.dataSource;
    const insert = (namespace: string, count: number, daysAgo: number, status = 'COMPLETED') =>
      db.query(
        `INSERT INTO cron_job_runs (namespace, job_name, status, scheduled_at, attempt, trigger, exclusive)
         SELECT $1, 'fixture.backlog', $4::text, now() - make_interval(days => $3) - make_interval(secs => g), 1, 'schedule', $4::text <> 'RUNNING'
           FROM generate_series(1, $2) AS g`,
        [namespace, count, daysAgo, status],
      );
    await insert(s.prefix, 12_000, 40);
    await insert(s.prefix, 25, 1);
    await insert(s.prefix, 1, 40, 'RUNNING');
    await insert(other, 300, 40);

    const app = await operatorApp(s, s.prefix, { cronPruneBatchSize: 1_000 });
    onTestFinished(() => app.close());
    await app.get(CronRunStore, { strict: false }).connect();
    const outcome = await app.get(CronMaintenance, { strict: false }).pruneCronRuns();
    expect(outcome).toEqual({ deletedCount: 12_000, batches: 13 });
    const left = (await db.query(
      `SELECT namespace, status, count(*)::int AS n FROM cron_job_runs GROUP BY namespace, status ORDER BY namespace, status`,
    )) as { namespace: string; status: string; n: number }[];
    expect(left).toHaveLength(3);
    expect(left).toEqual(
      expect.arrayContaining([
        { namespace: s.prefix, status: 'COMPLETED', n: 25 },
        { namespace: s.prefix, status: 'RUNNING', n: 1 },
        { namespace: other, status: 'COMPLETED', n: 300 },
      ]),
    );
  });
});
