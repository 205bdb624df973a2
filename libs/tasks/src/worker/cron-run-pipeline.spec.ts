import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { CronRunPipeline } from './cron-run-pipeline.js';
import type { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { CronMaintenance } from '../cron/cron-maintenance.js';
import { buildCronMetadata } from '../cron/cron.decorator.js';
import type { CronJobData } from '../cron/cron-job-data.js';
import { DEFAULT_TASKS_OPTIONS } from '../options/resolve-tasks-options.js';
import { JobAbort } from '../task/job-abort.js';
import { TasksClock } from '../options/tasks-clock.js';
import type { CronLockService } from '../lock/cron-lock.service.js';
import type { CronRunStore } from '../tracking/cron-run.store.js';
import type { RunLogContext } from '../observability/run-log-context.js';
import { TasksEvents } from '../events/tasks-events.js';
import { TASKS_EVENT_NAMES } from '../events/lifecycle-events.js';

type Level = 'log' | 'debug' | 'warn' | 'error';

// The pipeline with what it needs from Redis and Postgres stubbed: untracked
// crons need neither a row nor a database, and the lock is free or held at will.
// The run's routine lines go to its pino logger: they are kept in `routineLines`, at pino's level names.
const routineLines: Array<{ level: 'info' | 'debug'; message: string; context: unknown }> = [];
const runLogger = {
  info: (fields: { context: unknown }, message: string) => void routineLines.push({ level: 'info', message, context: fields.context }),
  debug: (fields: { context: unknown }, message: string) => void routineLines.push({ level: 'debug', message, context: fields.context }),
};

function pipelineWith(lockFree: () => boolean, sweep: () => Promise<unknown> = () => Promise.resolve({ markedFailed: 0 }), events = new TasksEvents()) {
  const catalog = new CronCatalog();
  const maintenance = new CronMaintenance(null as never, null as never, DEFAULT_TASKS_OPTIONS);
  for (const { method, metadata } of maintenance.definitions()) {
    catalog.register({ ...metadata, source: `CronMaintenance.${method}`, internal: true, invoke: sweep });
  }
  const userCron = buildCronMetadata('ReportJobs', 'nightly', '*/5 * * * * *', { name: 'reports.nightly', track: false });
  catalog.register({ ...userCron, source: 'ReportJobs.nightly', internal: false, invoke: () => Promise.resolve('done') });
  const failingCron = buildCronMetadata('ReportJobs', 'broken', '*/5 * * * * *', { name: 'reports.broken', track: false });
  catalog.register({ ...failingCron, source: 'ReportJobs.broken', internal: false, invoke: () => Promise.reject(new RangeError('row 7 of the secret report')) });
  const locks = { tryAcquire: () => Promise.resolve(lockFree() ? { token: 'token', release: () => Promise.resolve() } : undefined) };
  const logContext = { run: (_bindings: unknown, fn: () => unknown) => fn(), logger: runLogger };
  return new CronRunPipeline(
    catalog,
    locks as unknown as CronLockService,
    {} as CronRunStore,
    logContext as unknown as RunLogContext,
    DEFAULT_TASKS_OPTIONS,
    events,
    // Schedules in Postgres: the untracked cron notes nothing, and this spec needs no Redis.
    { inRedis: false } as unknown as ScheduleStoreSelector,
    new TasksClock(),
  );
}

const job = (name: string) =>
  ({ id: `${name}@1`, name, queueName: 'tasks.cron', opts: {}, attemptsMade: 0, data: { name, scheduledAt: Date.now(), trigger: 'schedule' } }) as unknown as Job<CronJobData>;

describe('CronRunPipeline log levels', () => {
  const lines: Array<{ level: Level; message: string }> = [];
  const spies: MockInstance[] = [];
  beforeEach(() => {
    lines.length = 0;
    routineLines.length = 0;
    for (const level of ['log', 'debug', 'warn', 'error'] as const) {
      spies.push(vi.spyOn(Logger.prototype, level).mockImplementation((message: unknown) => void lines.push({ level, message: String(message) })));
    }
  });
  afterEach(() => {
    for (const spy of spies.splice(0)) spy.mockRestore();
  });

  const levelOf = (fragment: string) => lines.filter((line) => line.message.includes(fragment)).map((line) => line.level);
  const routineLevelOf = (fragment: string) =>
    routineLines.filter((line) => line.message.includes(fragment) && line.context === 'CronRunPipeline').map((line) => line.level);

  it("logs the routine runs of the library's own crons at debug, and the app's at info", async () => {
    const pipeline = pipelineWith(() => true);
    await expect(pipeline.run(job('tasks.sweepLostRuns'), new JobAbort())).resolves.toMatchObject({ status: 'COMPLETED' });
    await expect(pipeline.run(job('reports.nightly'), new JobAbort())).resolves.toMatchObject({ status: 'COMPLETED' });
    expect(routineLevelOf('Cron job tasks.sweepLostRuns completed')).toEqual(['debug']);
    expect(routineLevelOf('Cron job reports.nightly completed')).toEqual(['info']);
  });

  it('logs a skipped tick of the sweep at debug, and of an app cron at info', async () => {
    const pipeline = pipelineWith(() => false);
    await expect(pipeline.run(job('tasks.sweepLostRuns'), new JobAbort())).resolves.toMatchObject({ status: 'SKIPPED' });
    await expect(pipeline.run(job('reports.nightly'), new JobAbort())).resolves.toMatchObject({ status: 'SKIPPED' });
    expect(routineLevelOf('Cron job tasks.sweepLostRuns skipped')).toEqual(['debug']);
    expect(routineLevelOf('Cron job reports.nightly skipped')).toEqual(['info']);
  });

  it("keeps a failure of the library's own cron at error", async () => {
    const pipeline = pipelineWith(
      () => true,
      () => Promise.reject(new Error('Postgres went away')),
    );
    await expect(pipeline.run(job('tasks.sweepLostRuns'), new JobAbort())).rejects.toThrow('Postgres went away');
    expect(levelOf('Cron job tasks.sweepLostRuns failed')).toEqual(['error']);
  });
});

describe('CronRunPipeline lifecycle events of an untracked cron', () => {
  const heardBy = (events: TasksEvents) => {
    const heard: { name: string; event: Record<string, unknown> }[] = [];
    for (const name of TASKS_EVENT_NAMES) events.on(name, (event) => heard.push({ name, event: { ...event } }));
    return heard;
  };
  beforeEach(() => {
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => vi.restoreAllMocks());

  it('claimed then finished, without a row id, not recorded; a failure names the class of the error, not its message', async () => {
    const events = new TasksEvents();
    const heard = heardBy(events);
    const pipeline = pipelineWith(() => true, undefined, events);
    const completed = job('reports.nightly');
    await pipeline.run(completed, new JobAbort());
    const failed = job('reports.broken');
    await expect(pipeline.run(failed, new JobAbort())).rejects.toThrow(RangeError);
    const run = (j: Job<CronJobData>) => ({ cron: j.name, scheduledAt: new Date(j.data.scheduledAt), trigger: 'schedule', attempt: 1 });
    expect(heard).toEqual([
      { name: 'cron.run.claimed', event: { ...run(completed), resumed: false } },
      { name: 'cron.run.finished', event: { ...run(completed), durationMs: expect.any(Number), recorded: false, status: 'COMPLETED' } },
      { name: 'cron.run.claimed', event: { ...run(failed), resumed: false } },
      { name: 'cron.run.finished', event: { ...run(failed), durationMs: expect.any(Number), recorded: false, status: 'FAILED', errorType: 'RangeError' } },
    ]);
  });

  it('skipped, not recorded, with the reason a row would have', async () => {
    const events = new TasksEvents();
    const heard = heardBy(events);
    const skipped = job('reports.nightly');
    await pipelineWith(() => false, undefined, events).run(skipped, new JobAbort());
    expect(heard).toEqual([
      {
        name: 'cron.run.skipped',
        event: { cron: 'reports.nightly', scheduledAt: new Date(skipped.data.scheduledAt), trigger: 'schedule', attempt: 1, reason: 'Skipped: an earlier run still holds the lock', recorded: false },
      },
    ]);
  });
});
