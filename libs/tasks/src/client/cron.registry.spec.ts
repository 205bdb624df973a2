import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { TasksError, UnknownCronError, UnknownTaskError } from '../errors/tasks.errors.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { buildCronMetadata } from '../cron/cron.decorator.js';
import type { CronJobData } from '../cron/cron-job-data.js';
import type { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';
import { DEFAULT_TASKS_OPTIONS } from '../options/resolve-tasks-options.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { QueueFactory } from '../queues/queue-factory.js';
import type { CronScheduleRecord } from '../tracking/cron-schedule-record.entity.js';
import type { ScheduleStore, ScheduleWithLastRun } from '../tracking/schedule.store.js';
import { CronRegistry } from './cron.registry.js';
import { TasksClock } from '../options/tasks-clock.js';

/** A schedule store holding `names` (the `tasks.*` ones internal); pause and resume find only those. */
function storeWith(names: readonly string[]): ScheduleStore {
  const rows = (): ScheduleWithLastRun[] =>
    names.map((name) => ({ schedule: { name, internal: name.startsWith('tasks.') } as CronScheduleRecord, lastRun: null }));
  return {
    where: 'cron_schedules',
    connect: async () => undefined,
    reconcile: async () => new Map(),
    beforeTick: async () => ({ paused: false, previousTick: undefined }),
    pause: async (name) => names.includes(name),
    resume: async (name) => names.includes(name),
    list: async (name) => rows().filter((row) => name === undefined || row.schedule.name === name),
  };
}

function registry(declared: readonly string[], scheduled: readonly string[], options: Partial<ResolvedTasksOptions> = {}): CronRegistry {
  const catalog = new CronCatalog();
  for (const name of declared) {
    const metadata = buildCronMetadata(`spec ${name}`, name, '0 3 * * *', {});
    catalog.register({ ...metadata, source: `Spec.${name}`, internal: false, invoke: async () => undefined });
  }
  const selector = { store: storeWith(scheduled), inRedis: false } as unknown as ScheduleStoreSelector;
  const queue = { name: 'cron', add: async () => ({}) } as unknown as Queue<CronJobData>;
  return new CronRegistry(catalog, selector, queue, { ...DEFAULT_TASKS_OPTIONS, prefix: 'shop', ...options }, { outcomes: () => ({}) } as unknown as QueueFactory, new TasksClock());
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('CronRegistry and an unknown cron', () => {
  it('trigger and nextTicks throw UnknownCronError (a TasksError, not an UnknownTaskError) listing the crons this process declares', async () => {
    const crons = registry(['reports.daily', 'billing.close'], ['reports.daily', 'billing.close', 'other.app']);
    const error = await crons.trigger('reports.dialy').catch((rejection: unknown) => rejection);
    expect(error).toBeInstanceOf(UnknownCronError);
    expect(error).toBeInstanceOf(TasksError);
    expect(error).not.toBeInstanceOf(UnknownTaskError);
    expect(error).toMatchObject({ name: 'UnknownCronError', cronName: 'reports.dialy', knownCrons: ['billing.close', 'reports.daily'] });
    expect((error as Error).message).toBe(
      `Unknown cron job "reports.dialy": this process's code does not declare it. Cron jobs it declares: "billing.close", "reports.daily". ` +
        'Check the spelling, or call this from an app whose modules include the provider with the @Cron() method: ' +
        'a cron is triggered, and its ticks previewed, from code that declares it.',
    );
    // Scheduled by another app's code, so listed, but not declared here: it cannot be enqueued from here.
    expect(thrown(() => crons.nextTicks('other.app'))).toMatchObject({ cronName: 'other.app', knownCrons: ['billing.close', 'reports.daily'] });
  });

  it('pause and resume of a cron without a schedule throw UnknownCronError listing the scheduled ones, internal ones left out', async () => {
    const crons = registry([], ['reports.daily', 'tasks.sweepLostRuns', 'billing.close']);
    for (const attempt of [() => crons.pause('reports.dialy'), () => crons.resume('reports.dialy')]) {
      const error = await attempt().catch((rejection: unknown) => rejection);
      expect(error).toBeInstanceOf(UnknownCronError);
      expect(error).toMatchObject({ cronName: 'reports.dialy', knownCrons: ['reports.daily', 'billing.close'] });
      expect((error as Error).message).toBe(
        'Unknown cron job "reports.dialy": no schedule of that name in cron_schedules. Cron jobs with a schedule: "reports.daily", "billing.close". ' +
          `Check the spelling, and that the scheduler runs with the same prefix: a scheduler creates a cron's schedule when it boots ` +
          'with code that declares the cron, under its own prefix ("shop" here).',
      );
    }
  });

  it('pause of a cron this process declares, before any scheduler booted with it, says to start one (naming TASKS_PREFIX when the app read it)', async () => {
    const crons = registry(['reports.daily'], [], { sources: { prefix: 'TASKS_PREFIX' } });
    const error = await crons.pause('reports.daily').catch((rejection: unknown) => rejection);
    expect(error).toMatchObject({ name: 'UnknownCronError', cronName: 'reports.daily', knownCrons: [] });
    expect((error as Error).message).toBe(
      `Cron job "reports.daily" has no schedule in cron_schedules yet: a scheduler creates a cron's schedule when it boots with code ` +
        'that declares the cron, under its own TASKS_PREFIX ("shop" here). Start the scheduler once with the same TASKS_PREFIX, then try again.',
    );
  });
});
