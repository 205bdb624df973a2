import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Injectable, Module, type Type } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { TestingModule } from '@nestjs/testing';
import { Cron, CronRegistry, CronRunStatus, CronRunsService, InternalCronError, UnknownCronError, type CronJobInfo } from 'nestjs-tasks';
import { PostgresScheduleStore } from '#nestjs-tasks-internal';
import { declaredSchedules } from '../support/cron-schedules.js';
import { databaseOptions } from '@app/jobs';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { rejectionOf, tasksAppsPerTest } from '../support/in-process.js';

@Injectable()
class ReportJobs {
  @Cron('30 6 * * 1-5', { name: 'reports.weekday', timeZone: 'Europe/Berlin', lockTtlMs: 90_000 })
  async weekday(): Promise<void> {}

  @Cron('*/15 * * * *', 120)
  async quarterly(): Promise<void> {}
}

@Module({ providers: [ReportJobs] })
class ReportsModule {}

const QUARTER_HOUR = 15 * 60_000;

/** The next `count` quarter hours after `from`, worked out by hand rather than by the library. */
const quarterHoursAfter = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => new Date((Math.floor(from / QUARTER_HOUR) + 1 + i) * QUARTER_HOUR));

/** `quarterly` as the registry describes it before any scheduler or worker touched it. */
const quarterlyFromCode = (nextTicks: Date[]): CronJobInfo => ({
  name: 'quarterly',
  expression: '*/15 * * * *',
  timeZone: 'UTC',
  catchUp: 'skip',
  overlap: 'skip',
  source: 'ReportJobs.quarterly',
  internal: false,
  paused: null,
  removedAt: null,
  lastTick: null,
  nextTicks,
  lastRun: null,
  declared: { lockTtlMs: 120_000, attempts: 1, track: true },
});

interface ScheduleRow {
  name: string;
  paused: boolean;
  paused_reason: string | null;
  paused_by: string | null;
  paused_at: Date | null;
  removed_at: Date | null;
}

// The public registry an app injects to see, pause and trigger its crons: the
// code's crons joined with their cron_schedules rows (a real Postgres schema; no
// scheduler or worker runs, the store's reconcile stands in for a scheduler's boot).
describe('CronRegistry', () => {
  const apps = tasksAppsPerTest('cron-registry');
  let schema: TestSchema;
  let DatabaseModule: Type<unknown>;

  beforeAll(async () => {
    schema = await createTestSchema('cron_registry');
    @Module({ imports: [TypeOrmModule.forRoot(databaseOptions({ ...process.env, ...schema.env }))] })
    class RegistryDatabaseModule {}
    DatabaseModule = RegistryDatabaseModule;
  });

  afterAll(async () => {
    await schema?.drop();
  });

  const createApp = () => apps.create({ imports: [DatabaseModule, ReportsModule] });

  const rows = async (): Promise<ScheduleRow[]> =>
    (await schema.dataSource.query(
      `SELECT name, paused, paused_reason, paused_by, paused_at, removed_at FROM cron_schedules WHERE namespace = $1 ORDER BY name`,
      [apps.prefix],
    )) as ScheduleRow[];

  /** What a scheduler does at boot: one row per cron of the code (plus `extra` names, as another deployment's code would have). */
  const reconcile = async (app: TestingModule, extra: string[] = []) => {
    const declared = declaredSchedules(app);
    const others = extra.map((name) => ({
      name,
      expression: '0 3 * * *',
      timeZone: 'UTC',
      catchUp: 'latest',
      overlap: 'allow',
      source: 'LegacyJobs.run',
      internal: false,
      nextTick: Date.now() + 60_000,
    }));
    await app.get(PostgresScheduleStore).reconcile([...declared, ...others]);
  };

  it('lists the app’s crons from the code before any scheduler booted, with their next ticks; the library’s own only on request', async () => {
    const app = await createApp();
    const registry = app.get(CronRegistry);
    const before = Date.now();
    const listed = await registry.list();
    const weekdayTicks = registry.nextTicks('reports.weekday', 5, new Date(before));

    expect(listed).toEqual([
      quarterlyFromCode(quarterHoursAfter(before, 5)),
      {
        name: 'reports.weekday',
        expression: '30 6 * * 1-5',
        timeZone: 'Europe/Berlin',
        catchUp: 'skip',
        overlap: 'skip',
        source: 'ReportJobs.weekday',
        internal: false,
        paused: null,
        removedAt: null,
        lastTick: null,
        nextTicks: weekdayTicks,
        lastRun: null,
        declared: { lockTtlMs: 90_000, attempts: 1, track: true },
      },
    ]);
    expect((await registry.list({ ticks: 2 })).map((cron) => cron.nextTicks.length)).toEqual([2, 2]);
    const withInternal = await registry.list({ internal: true });
    expect(withInternal.map((cron) => [cron.name, cron.internal])).toEqual([
      ['quarterly', false],
      ['reports.weekday', false],
      ['tasks.pruneCronRuns', true],
      ['tasks.sweepLostRuns', true],
    ]);
    expect(withInternal.find((cron) => cron.name === 'tasks.pruneCronRuns')).toMatchObject({
      expression: '17 * * * *',
      source: 'CronMaintenance.pruneCronRuns',
      declared: { lockTtlMs: 300_000, attempts: 1, track: true },
    });

    const one = await registry.get('quarterly', 3);
    expect(one).toEqual(quarterlyFromCode(quarterHoursAfter(before, 3)));
    expect(await registry.get('nope')).toBeUndefined();
    // Listing reads cron_schedules but writes nothing there: only a scheduler creates rows.
    expect(await rows()).toEqual([]);
  });

  it('previews the next ticks in the cron’s time zone', async () => {
    const app = await createApp();
    const registry = app.get(CronRegistry);
    // Friday 2026-07-03 12:00 UTC: the next weekday 06:30 in Berlin (UTC+2 in summer) is Monday 04:30 UTC.
    const from = new Date('2026-07-03T12:00:00Z');
    expect(registry.nextTicks('reports.weekday', 3, from).map((tick) => tick.toISOString())).toEqual([
      '2026-07-06T04:30:00.000Z',
      '2026-07-07T04:30:00.000Z',
      '2026-07-08T04:30:00.000Z',
    ]);
    expect(registry.nextTicks('quarterly', 2, from).map((tick) => tick.toISOString())).toEqual([
      '2026-07-03T12:15:00.000Z',
      '2026-07-03T12:30:00.000Z',
    ]);
    expect(() => registry.nextTicks('nope')).toThrow(UnknownCronError);
  });

  it('pauses only a cron that has a schedule row: before a scheduler booted it is unknown to pause and resume', async () => {
    const app = await createApp();
    const registry = app.get(CronRegistry);
    // One at a time: a call started before the previous one is awaited would reject unobserved.
    for (const attempt of [() => registry.pause('quarterly', { reason: 'too early' }), () => registry.resume('quarterly'), () => registry.pause('nope')]) {
      const error = await rejectionOf(attempt());
      expect(error).toBeInstanceOf(UnknownCronError);
    }
    const early = (await rejectionOf(registry.pause('quarterly'))) as UnknownCronError;
    expect(early.message).toBe(
      `Cron job "quarterly" has no schedule in cron_schedules yet: a scheduler creates a cron's schedule when it boots with code ` +
        `that declares the cron, under its own prefix ("${apps.prefix}" here). Start the scheduler once with the same prefix, then try again.`,
    );
    const error = (await rejectionOf(registry.pause('nope'))) as UnknownCronError;
    expect(error.message).toBe(
      'Unknown cron job "nope": no schedule of that name in cron_schedules. Cron jobs with a schedule: (none). ' +
        `Check the spelling, and that the scheduler runs with the same prefix: a scheduler creates a cron's schedule when it boots ` +
        `with code that declares the cron, under its own prefix ("${apps.prefix}" here).`,
    );
    expect(error).toMatchObject({ cronName: 'nope', knownCrons: [] });
    expect(await rows()).toEqual([]);
  });

  it('pauses and resumes through cron_schedules, noting why, by whom and since when', async () => {
    const app = await createApp();
    const registry = app.get(CronRegistry);
    await reconcile(app);
    expect((await rows()).map((row) => [row.name, row.paused])).toEqual([
      ['quarterly', false],
      ['reports.weekday', false],
      ['tasks.pruneCronRuns', false],
      ['tasks.sweepLostRuns', false],
    ]);

    const paused = await registry.pause('quarterly', { reason: 'migrating the reports table', by: 'ops-alice' });
    const [row] = (await rows()).filter((candidate) => candidate.name === 'quarterly');
    expect(row).toEqual({
      name: 'quarterly',
      paused: true,
      paused_reason: 'migrating the reports table',
      paused_by: 'ops-alice',
      paused_at: expect.any(Date),
      removed_at: null,
    });
    const since = row?.paused_at as Date;
    expect(paused).toEqual({
      ...quarterlyFromCode(paused.nextTicks),
      paused: { reason: 'migrating the reports table', by: 'ops-alice', since },
    });
    expect(paused.nextTicks).toHaveLength(5);
    expect((await registry.list()).map((cron) => [cron.name, cron.paused])).toEqual([
      ['quarterly', { reason: 'migrating the reports table', by: 'ops-alice', since }],
      ['reports.weekday', null],
    ]);

    // Pausing again replaces the note but keeps the time it has been paused since.
    const again = await registry.pause('quarterly', { by: 'ops-bob' });
    expect(again.paused).toEqual({ reason: null, by: 'ops-bob', since });

    const resumed = await registry.resume('quarterly');
    expect(resumed).toEqual(quarterlyFromCode(resumed.nextTicks));
    expect((await rows()).find((candidate) => candidate.name === 'quarterly')).toEqual({
      name: 'quarterly',
      paused: false,
      paused_reason: null,
      paused_by: null,
      paused_at: null,
      removed_at: null,
    });
    // Resuming a cron that is not paused changes nothing.
    expect((await registry.resume('reports.weekday')).paused).toBeNull();
  });

  it('refuses to pause, resume or trigger the library’s own crons, naming the cron and why', async () => {
    const app = await createApp();
    const registry = app.get(CronRegistry);
    await reconcile(app);
    const purposes = { 'tasks.sweepLostRuns': 'cronSweepIntervalMs', 'tasks.pruneCronRuns': 'cronRunRetentionDays' };
    for (const [name, option] of Object.entries(purposes)) {
      const attempts = { paused: () => registry.pause(name, { by: 'ops-alice' }), resumed: () => registry.resume(name), triggered: () => registry.trigger(name) };
      for (const [action, attempt] of Object.entries(attempts)) {
        const error = (await rejectionOf(attempt())) as InternalCronError;
        expect(error, `${action} ${name}`).toBeInstanceOf(InternalCronError);
        expect(error.cronName).toBe(name);
        expect(error.message).toContain(`Cron job "${name}" is one of the library's own maintenance crons and cannot be ${action}`);
        expect(error.message).toContain(option);
      }
      // Reading them is fine: get() shows them, marked internal.
      expect(await registry.get(name)).toMatchObject({ name, internal: true, paused: null });
    }
    expect((await rows()).filter((row) => row.paused)).toEqual([]);

    // Also from a process whose code has no crons (no maintenance registered), such as an api.
    const bare = await apps.create({ imports: [DatabaseModule] });
    expect(await rejectionOf(bare.get(CronRegistry).pause('tasks.sweepLostRuns'))).toBeInstanceOf(InternalCronError);
  });

  it('resumes, at a scheduler’s boot, a library cron left paused (an earlier version allowed it)', async () => {
    const app = await createApp();
    await reconcile(app);
    await schema.dataSource.query(
      `UPDATE cron_schedules SET paused = true, paused_reason = 'old', paused_by = 'ops', paused_at = now() WHERE namespace = $1 AND name IN ('tasks.sweepLostRuns', 'quarterly')`,
      [apps.prefix],
    );
    await reconcile(app);
    expect((await rows()).filter((row) => row.paused).map((row) => row.name)).toEqual(['quarterly']);
    expect((await rows()).find((row) => row.name === 'tasks.sweepLostRuns')).toMatchObject({ paused_reason: null, paused_by: null, paused_at: null });
  });

  it('lists a row the code does not declare, and a removed one only on request', async () => {
    const app = await createApp();
    const registry = app.get(CronRegistry);
    await reconcile(app, ['legacy.export']);
    const legacy = await registry.get('legacy.export', 2);
    expect(legacy).toEqual({
      name: 'legacy.export',
      expression: '0 3 * * *',
      timeZone: 'UTC',
      catchUp: 'latest',
      overlap: 'allow',
      source: 'LegacyJobs.run',
      internal: false,
      paused: null,
      removedAt: null,
      lastTick: null,
      nextTicks: legacy?.nextTicks,
      lastRun: null,
    });
    const day = 24 * 3_600_000;
    const threeAm = (Math.floor((Date.now() - 3 * 3_600_000) / day) + 1) * day + 3 * 3_600_000;
    expect(legacy?.nextTicks).toEqual([new Date(threeAm), new Date(threeAm + day)]);
    expect((await registry.list()).map((cron) => cron.name)).toEqual(['legacy.export', 'quarterly', 'reports.weekday']);
    // Declared elsewhere: listed, but this process cannot enqueue it.
    expect(await rejectionOf(registry.trigger('legacy.export'))).toMatchObject({
      name: 'UnknownCronError',
      cronName: 'legacy.export',
      knownCrons: ['quarterly', 'reports.weekday', 'tasks.pruneCronRuns', 'tasks.sweepLostRuns'],
    });

    // A scheduler boots with code that no longer has it.
    await reconcile(app);
    expect((await registry.list()).map((cron) => cron.name)).toEqual(['quarterly', 'reports.weekday']);
    const removed = (await registry.list({ removed: true })).find((cron) => cron.name === 'legacy.export');
    const removedAt = (await rows()).find((row) => row.name === 'legacy.export')?.removed_at;
    expect(removedAt).toEqual(expect.any(Date));
    expect(removed).toMatchObject({ name: 'legacy.export', removedAt, nextTicks: [] });
    expect((await registry.get('legacy.export'))?.removedAt).toEqual(removedAt);
  });

  it('asks for the runs of a cron without a schedule: UnknownCronError naming the scheduled ones; a scheduled cron without runs has none', async () => {
    const app = await createApp();
    const runs = app.get(CronRunsService);
    const before = (await rejectionOf(runs.latest('quarterly'))) as UnknownCronError;
    expect(before).toBeInstanceOf(UnknownCronError);
    expect(before).toMatchObject({ cronName: 'quarterly', knownCrons: [] });

    await reconcile(app, ['legacy.export']);
    expect(await runs.latest('quarterly')).toEqual([]);
    expect(await runs.find({ job: 'legacy.export', status: CronRunStatus.FAILED })).toEqual([]);
    const error = (await rejectionOf(runs.find({ job: 'quartely' }))) as UnknownCronError;
    expect(error).toMatchObject({ cronName: 'quartely', knownCrons: ['legacy.export', 'quarterly', 'reports.weekday', 'tasks.pruneCronRuns', 'tasks.sweepLostRuns'] });
    expect(error.message).toBe(
      'Unknown cron job "quartely": no schedule of that name in cron_schedules, so no runs. ' +
        'Cron jobs with a schedule: "legacy.export", "quarterly", "reports.weekday", "tasks.pruneCronRuns", "tasks.sweepLostRuns". ' +
        `Check the spelling, and that the scheduler runs with the same prefix: a scheduler creates a cron's schedule when it boots ` +
        `with code that declares the cron, under its own prefix ("${apps.prefix}" here).`,
    );
  });
});
