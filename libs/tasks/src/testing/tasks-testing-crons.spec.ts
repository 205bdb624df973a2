import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Task } from '../task/task.decorator.js';
import { Cron } from '../cron/cron.decorator.js';
import type { CronContext } from '../cron/cron-context.js';
import { TaskClient } from '../client/task-client.js';
import { CronRegistry } from '../client/cron.registry.js';
import { TasksEvents } from '../events/tasks-events.js';
import { TasksTestingModule } from './tasks-testing.module.js';
import { TasksTesting } from './tasks-testing.js';
import type { TasksTestingMode } from './testing-options.js';

const T0 = Date.parse('2030-03-04T10:00:30.000Z');
const MINUTE = 60_000;

@Injectable()
class Reports {
  readonly sent: string[] = [];
  readonly tokens: number[] = [];
}

@Injectable()
class ReportJobs {
  constructor(
    private readonly reports: Reports,
    private readonly client: TaskClient,
  ) {}

  /** Every minute: enqueues the report of the minute, as an app's cron hands work to tasks. */
  @Cron('* * * * *', { name: 'reports.minutely' })
  async minutely(ctx: CronContext): Promise<{ tick: string }> {
    this.reports.tokens.push(ctx.fencingToken);
    await this.client.enqueue(ReportJobs, 'send', { tick: ctx.scheduledAt.toISOString() });
    return { tick: ctx.scheduledAt.toISOString() };
  }

  @Task()
  async send(payload: { tick: string }): Promise<void> {
    this.reports.sent.push(payload.tick);
  }
}

@Module({ providers: [Reports, ReportJobs] })
class ReportsModule {}

async function boot(mode?: TasksTestingMode): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({ imports: [TasksTestingModule.forRoot({ now: T0, mode }), ReportsModule] }).compile();
  return moduleRef.init();
}

describe('TasksTesting: crons and time', () => {
  let app: TestingModule;
  let tasks: TasksTesting;
  let reports: Reports;

  beforeEach(async () => {
    app = await boot();
    tasks = app.get(TasksTesting);
    reports = app.get(Reports);
  });

  afterEach(async () => {
    await app.close();
  });

  it('fires exactly the ticks the clock passes; a cron’s task jobs then wait for drain()', async () => {
    expect(tasks.clock.now()).toEqual(new Date(T0));
    const runs = await tasks.clock.advanceBy(2 * MINUTE);
    expect(runs.map((run) => [run.status, run.scheduledAt.toISOString()])).toEqual([
      ['COMPLETED', '2030-03-04T10:01:00.000Z'],
      ['COMPLETED', '2030-03-04T10:02:00.000Z'],
    ]);
    expect(tasks.runsOf('reports.minutely')).toHaveLength(2);
    expect(reports.tokens[1]).toBeGreaterThan(reports.tokens[0] as number);
    tasks.expectEnqueued(ReportJobs, 'send', { tick: '2030-03-04T10:01:00.000Z' });
    expect(reports.sent).toEqual([]);
    await tasks.drain();
    expect(reports.sent).toEqual(['2030-03-04T10:01:00.000Z', '2030-03-04T10:02:00.000Z']);
  });

  it('stamps jobs with the kit’s time, and makes a delayed job due once the clock passes it', async () => {
    const client = app.get(TaskClient);
    const handle = await client.enqueue(ReportJobs, 'send', { tick: 'later' }, { delayMs: 10_000 });
    expect((await client.getJob(handle.id))?.enqueuedAt).toEqual(new Date(T0));
    expect(await tasks.runNext()).toBeUndefined();
    await tasks.clock.advanceBy(9_999);
    expect(await tasks.runNext()).toBeUndefined();
    await tasks.clock.advanceBy(1);
    expect(await tasks.runNext()).toMatchObject({ status: 'completed', job: { id: handle.id } });
  });

  it('lets a deduplication window end as the clock passes it', async () => {
    const client = app.get(TaskClient);
    const once = { deduplicate: { key: 'k', windowMs: 30_000 } };
    const first = await client.enqueue(ReportJobs, 'send', { tick: 'a' }, once);
    await tasks.drain();
    expect((await client.enqueue(ReportJobs, 'send', { tick: 'b' }, once)).id).toBe(first.id);
    await tasks.clock.advanceBy(30_000);
    expect((await client.enqueue(ReportJobs, 'send', { tick: 'c' }, once)).id).not.toBe(first.id);
  });

  it('holds ticks and jobs while the worker is stopped; the catch-up policy judges the ticks when it starts', async () => {
    tasks.stopWorker();
    await app.get(TaskClient).enqueue(ReportJobs, 'send', { tick: 'during the outage' });
    expect(await tasks.drain()).toEqual([]);
    // The last tick (10:03) is 5 s old when the worker is back: within the catch-up window.
    await tasks.clock.advanceTo(new Date('2030-03-04T10:03:05.000Z'));
    const runs = await tasks.startWorker();
    expect(runs.map((run) => run.status)).toEqual(['MISSED', 'MISSED', 'COMPLETED']);
    await tasks.drain();
    expect(reports.sent).toContain('during the outage');
  });

  it('fires no tick while the scheduler is stopped; at its start the catch-up policy judges the ticks it slept through', async () => {
    const events = app.get(TasksEvents);
    const missed: string[] = [];
    const enqueued: string[] = [];
    events.on('cron.tick.missed', (e) => missed.push(`${e.scheduledAt.toISOString()} ${e.cause} ${e.recorded}`));
    events.on('cron.tick.enqueued', (e) => enqueued.push(e.scheduledAt.toISOString()));
    await tasks.clock.advanceBy(MINUTE); // 10:01 runs
    tasks.stopScheduler();
    expect(await tasks.clock.advanceTo(new Date('2030-03-04T10:04:05.000Z'))).toEqual([]);
    expect(tasks.runsOf('reports.minutely')).toHaveLength(1);
    // 10:02 and 10:03 are superseded by 10:04, 5 s old: 'skip' runs only the newest, within its grace.
    const runs = await tasks.startScheduler();
    expect(runs.map((run) => [run.status, run.scheduledAt.toISOString()])).toEqual([
      ['MISSED', '2030-03-04T10:02:00.000Z'],
      ['MISSED', '2030-03-04T10:03:00.000Z'],
      ['COMPLETED', '2030-03-04T10:04:00.000Z'],
    ]);
    expect(runs[0]?.reason).toContain('superseded by the tick of 2030-03-04T10:03:00.000Z');
    expect(missed).toEqual(['2030-03-04T10:02:00.000Z catch-up true', '2030-03-04T10:03:00.000Z catch-up true']);
    expect(enqueued).toEqual(['2030-03-04T10:01:00.000Z', '2030-03-04T10:04:00.000Z']);
    // Ticking again.
    expect((await tasks.clock.advanceBy(MINUTE)).map((run) => run.status)).toEqual(['COMPLETED']);
  });

  it('after a scheduler outage longer than the catch-up grace, records every tick MISSED and runs none', async () => {
    await tasks.clock.advanceBy(MINUTE); // 10:01 runs, and is the last tick a scheduler noted
    tasks.stopScheduler();
    await tasks.clock.advanceTo(new Date('2030-03-04T10:03:45.000Z'));
    // 10:03 is 45 s old: past the default grace (cronCatchUpMs, 10 s) of catchUp 'skip'.
    const runs = await tasks.startScheduler();
    expect(runs.map((run) => [run.status, run.scheduledAt.toISOString()])).toEqual([
      ['MISSED', '2030-03-04T10:02:00.000Z'],
      ['MISSED', '2030-03-04T10:03:00.000Z'],
    ]);
    expect(runs[1]?.reason).toContain('past the catch-up grace');
    expect(await tasks.startScheduler()).toEqual([]);
  });

  it('triggers a cron through the app’s CronRegistry', async () => {
    const handle = await app.get(CronRegistry).trigger('reports.minutely');
    await expect(handle.waitResult()).resolves.toMatchObject({ status: 'COMPLETED' });
    expect(tasks.runsOf('reports.minutely').map((run) => run.trigger)).toEqual(['manual']);
  });

  it('forgets runs and jobs on reset(), keeping the time', async () => {
    await tasks.clock.advanceBy(MINUTE);
    await tasks.reset();
    expect(tasks.runsOf('reports.minutely')).toEqual([]);
    expect(tasks.enqueued()).toEqual([]);
    expect(tasks.clock.now()).toEqual(new Date(T0 + MINUTE));
  });
});

describe('TasksTesting: time in inline mode', () => {
  it('runs the jobs a tick enqueues at once, and delayed jobs once the clock passes them; close leaves nothing open', async () => {
    const before = new Set(process.getActiveResourcesInfo());
    const app = await boot('inline');
    const tasks = app.get(TasksTesting);
    const reports = app.get(Reports);
    await tasks.clock.advanceBy(MINUTE);
    expect(reports.sent).toEqual(['2030-03-04T10:01:00.000Z']);
    await app.get(TaskClient).enqueue(ReportJobs, 'send', { tick: 'delayed' }, { delayMs: 5_000 });
    expect(reports.sent).toHaveLength(1);
    await tasks.clock.advanceBy(5_000);
    expect(reports.sent).toEqual(['2030-03-04T10:01:00.000Z', 'delayed']);
    await app.close();
    expect(process.getActiveResourcesInfo().filter((type) => !before.has(type))).toEqual([]);
  });
});
