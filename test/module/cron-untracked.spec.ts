import { describe, expect, it } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { Job, Queue } from 'bullmq';
import { Cron, CronRegistry, CronRunsService, TasksHealthIndicator, UnknownCronError, type CronContext, type CronJobInfo, type CronRunOutcome } from 'nestjs-tasks';
import { CRON_QUEUE_TOKEN, RedisScheduleStore } from '#nestjs-tasks-internal';
import { declaredSchedules } from '../support/cron-schedules.js';
import { rejectionOf, tasksAppsPerTest } from '../support/in-process.js';
import { waitFor } from '../support/wait-for.js';

/** Ticks each cron's handler ran for, per app: the tests look at what ran. */
const ran: number[] = [];

@Injectable()
class UntrackedJobs {
  // The test adds ticks a few seconds old: a window keeps them from being superseded.
  @Cron('* * * * * *', { name: 'untracked.everySecond', track: false, lockTtlMs: 5_000, catchUp: { windowMs: 60_000 } })
  everySecond(ctx: CronContext): { tick: number; runId: number; fencingToken: number } {
    ran.push(ctx.scheduledAt.getTime());
    return { tick: ctx.scheduledAt.getTime(), runId: ctx.runId, fencingToken: ctx.fencingToken };
  }

  @Cron('0 3 * * *', { name: 'untracked.nightly', track: false, timeZone: 'Europe/Berlin' })
  nightly(): void {}
}

@Module({ providers: [UntrackedJobs] })
class UntrackedJobsModule {}

@Injectable()
class MixedJobs {
  @Cron('0 3 * * *', { name: 'tracked.nightly' })
  nightly(): void {}

  @Cron('* * * * *', { name: 'untracked.minutely', track: false })
  minutely(): void {}
}

@Module({ providers: [MixedJobs] })
class MixedJobsModule {}

const DATABASE_MISSING =
  "Cron jobs need a TypeORM DataSource for run tracking: import TypeOrmModule.forRoot({ ..., entities: [...TASKS_ENTITIES], migrations: [...TASKS_MIGRATIONS] }) (both from 'nestjs-tasks/typeorm') " +
  'in the root module of the worker and of the scheduler, and run the migrations.';

/** What a scheduler does at boot: one schedule per cron of the code (plus `extra` names, as another deployment's code would have). */
async function reconcile(app: TestingModule, extra: string[] = []): Promise<void> {
  const declared = declaredSchedules(app);
  const others = extra.map((name) => ({ name, expression: '0 4 * * *', timeZone: 'UTC', catchUp: 'latest', overlap: 'allow', source: 'Legacy.run', internal: false, nextTick: Date.now() }));
  await app.get(RedisScheduleStore).reconcile([...declared, ...others]);
}

/** Adds the job a scheduler adds at `tick`, and waits until a worker has handled it. */
async function runScheduledTick(app: TestingModule, name: string, tick: number): Promise<CronRunOutcome> {
  const queue = app.get<Queue>(CRON_QUEUE_TOKEN);
  const job = await queue.add(name, { name, scheduledAt: tick, trigger: 'schedule' }, { jobId: `${name}@${tick}` });
  const done = await waitFor(async () => {
    const current = (await queue.getJob(job.id as string)) as Job | undefined;
    return current?.finishedOn ? current : undefined;
  }, { what: `the tick ${new Date(tick).toISOString()} of ${name} handled` });
  expect(done.failedReason).toBeUndefined();
  return done.returnvalue as CronRunOutcome;
}

// An app whose crons are all `track: false` and that has no TypeORM DataSource:
// the registry, the worker's pipeline and the lateness check keep to Redis.
describe('crons that are all track: false: schedules in Redis, no database', () => {
  const apps = tasksAppsPerTest('cron-untracked');

  it('lists from the code before a scheduler reconciled; pause and resume need a reconciled schedule, as with cron_schedules', async () => {
    const app = await apps.create({ imports: [UntrackedJobsModule] });
    const registry = app.get(CronRegistry);
    const listed = await registry.list();
    expect(listed.map((cron) => [cron.name, cron.paused, cron.lastTick, cron.lastRun, cron.declared])).toEqual([
      ['untracked.everySecond', null, null, null, { lockTtlMs: 5_000, attempts: 1, track: false }],
      ['untracked.nightly', null, null, null, { lockTtlMs: 300_000, attempts: 1, track: false }],
    ]);
    // No library crons: they sweep and prune cron_job_runs, which an untracked app has no use for.
    expect((await registry.list({ internal: true })).map((cron) => cron.name)).toEqual(['untracked.everySecond', 'untracked.nightly']);

    const error = (await rejectionOf(registry.pause('untracked.nightly'))) as UnknownCronError;
    expect(error).toBeInstanceOf(UnknownCronError);
    expect(error.message).toBe(
      `Cron job "untracked.nightly" has no schedule in Redis (${apps.prefix}:cron-schedule:*) yet: a scheduler creates a cron's schedule ` +
        `when it boots with code that declares the cron, under its own prefix ("${apps.prefix}" here). Start the scheduler once with the same prefix, then try again.`,
    );
    expect(await rejectionOf(registry.resume('untracked.nightly'))).toBeInstanceOf(UnknownCronError);
  });

  it('pauses and resumes in Redis, noting why, by whom and since when; the last tick and removed crons show as with cron_schedules', async () => {
    const app = await apps.create({ imports: [UntrackedJobsModule] });
    const registry = app.get(CronRegistry);
    await reconcile(app, ['legacy.export']);

    const paused = await registry.pause('untracked.nightly', { reason: 'migrating', by: 'ops-alice' });
    const since = paused.paused?.since as Date;
    expect(since).toBeInstanceOf(Date);
    expect(paused).toEqual<CronJobInfo>({
      name: 'untracked.nightly',
      expression: '0 3 * * *',
      timeZone: 'Europe/Berlin',
      catchUp: 'skip',
      overlap: 'skip',
      source: 'UntrackedJobs.nightly',
      internal: false,
      paused: { reason: 'migrating', by: 'ops-alice', since },
      removedAt: null,
      lastTick: null,
      nextTicks: registry.nextTicks('untracked.nightly', 5),
      lastRun: null,
      declared: { lockTtlMs: 300_000, attempts: 1, track: false },
    });
    // Pausing again replaces the note but keeps the time it has been paused since.
    expect((await registry.pause('untracked.nightly', { by: 'ops-bob' })).paused).toEqual({ reason: null, by: 'ops-bob', since });
    expect((await registry.resume('untracked.nightly')).paused).toBeNull();
    expect((await registry.resume('untracked.everySecond')).paused).toBeNull();

    const tick = Date.parse('2026-05-04T01:00:00Z');
    expect(await app.get(RedisScheduleStore).beforeTick('untracked.nightly', tick, tick + 86_400_000)).toEqual({ paused: false, previousTick: undefined });
    expect(await app.get(RedisScheduleStore).beforeTick('untracked.nightly', tick - 1_000, tick)).toEqual({ paused: false, previousTick: tick });
    expect((await registry.get('untracked.nightly'))?.lastTick).toEqual(new Date(tick));

    expect((await registry.list()).map((cron) => cron.name)).toEqual(['legacy.export', 'untracked.everySecond', 'untracked.nightly']);
    await reconcile(app);
    expect((await registry.list()).map((cron) => cron.name)).toEqual(['untracked.everySecond', 'untracked.nightly']);
    const removed = await registry.get('legacy.export');
    expect(removed).toMatchObject({ name: 'legacy.export', source: 'Legacy.run', removedAt: expect.any(Date), nextTicks: [] });
  });

  it('a worker checks the pause in Redis, notes the latest run there, and the lateness check reads it', async () => {
    ran.length = 0;
    const app = await apps.create({ imports: [UntrackedJobsModule], worker: true });
    const registry = app.get(CronRegistry);
    const health = app.get(TasksHealthIndicator);
    const name = 'untracked.everySecond';
    await reconcile(app);
    const tick = Math.floor(Date.now() / 1_000) * 1_000 - 2_000;

    expect(await runScheduledTick(app, name, tick)).toEqual({ status: 'COMPLETED', result: { tick, runId: 0, fencingToken: 0 } });
    expect((await registry.get(name))?.lastRun).toEqual({ id: 0, status: 'COMPLETED', scheduledAt: new Date(tick), completedAt: expect.any(Date) });
    expect(await health.cronLate(name, Date.now() - tick + 500)).toEqual({
      [`cron:${name}`]: { status: 'up', tick: expect.any(String), lastStatus: 'COMPLETED' },
    });
    const late = await health.cronLate(name, 0);
    expect(late[`cron:${name}`]).toEqual({ status: 'down', message: expect.stringMatching(/^late: the tick of \S+ has no run 0 ms after it \(none started, or it was MISSED\)$/) });

    // A tick enqueued before the pause, taken after it, does not run; a manual trigger does.
    await registry.pause(name);
    expect(await runScheduledTick(app, name, tick + 1_000)).toEqual({ status: 'PAUSED' });
    expect(await health.cronLate(name)).toEqual({ [`cron:${name}`]: { status: 'up', paused: true } });
    const manual = await (await registry.trigger(name)).waitResult({ timeoutMs: 20_000 });
    expect(manual).toMatchObject({ status: 'COMPLETED', result: { runId: 0, fencingToken: 0 } });
    expect(ran).toEqual([tick, (manual as { result: { tick: number } }).result.tick]);
    expect((await registry.get(name))?.lastRun).toMatchObject({ id: 0, status: 'COMPLETED', scheduledAt: new Date(ran[1]) });
  });

  it('what needs the database fails only when used, naming what to import', async () => {
    const app = await apps.create({ imports: [UntrackedJobsModule] });
    expect((await rejectionOf(app.get(CronRunsService).find())).message).toBe(DATABASE_MISSING);
    expect(await app.get(TasksHealthIndicator).database()).toEqual({ database: { status: 'down', message: DATABASE_MISSING } });
  });

  it('one tracked cron in the app: the registry reads cron_schedules as before, and says what is missing', async () => {
    const app = await apps.create({ imports: [MixedJobsModule] });
    expect((await rejectionOf(app.get(CronRegistry).list())).message).toBe(DATABASE_MISSING);
  });

  it('an app that declares no crons reads cron_schedules as before', async () => {
    const app = await apps.create();
    expect((await rejectionOf(app.get(CronRegistry).list())).message).toBe(DATABASE_MISSING);
  });
});
