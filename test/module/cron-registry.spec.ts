import { describe, expect, it } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Cron, CronRegistry, UnknownTaskError } from 'nestjs-tasks';
import { tasksAppsPerTest } from '../support/in-process.js';

@Injectable()
class ReportJobs {
  @Cron('30 6 * * 1-5', { name: 'reports.weekday', timeZone: 'Europe/Berlin', lockTtlMs: 90_000 })
  async weekday(): Promise<void> {}

  @Cron('*/15 * * * *', 120)
  async quarterly(): Promise<void> {}
}

@Module({ providers: [ReportJobs] })
class ReportsModule {}

// The public registry an app injects to see and trigger its crons (no worker or database needed to list).
describe('CronRegistry', () => {
  const apps = tasksAppsPerTest('cron-registry');

  it('lists the app’s crons with expression, time zone and lock TTL; the library’s own only on request', async () => {
    const app = await apps.create({ imports: [ReportsModule] });
    const registry = app.get(CronRegistry);
    expect(registry.list()).toEqual([
      {
        name: 'quarterly',
        expression: '*/15 * * * *',
        timeZone: 'UTC',
        lockTtlMs: 120_000,
        attempts: 1,
        track: true,
        source: 'ReportJobs.quarterly',
        internal: false,
      },
      expect.objectContaining({ name: 'reports.weekday', expression: '30 6 * * 1-5', timeZone: 'Europe/Berlin', lockTtlMs: 90_000 }),
    ]);
    expect(registry.list({ internal: true }).filter((cron) => cron.internal).map((cron) => cron.name)).toEqual([
      'tasks.pruneCronRuns',
      'tasks.sweepLostRuns',
    ]);
    expect(registry.get('quarterly')?.source).toBe('ReportJobs.quarterly');
    expect(registry.get('nope')).toBeUndefined();
  });

  it('previews the next ticks in the cron’s time zone', async () => {
    const app = await apps.create({ imports: [ReportsModule] });
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
    expect(() => registry.nextTicks('nope')).toThrow(UnknownTaskError);
  });
});
