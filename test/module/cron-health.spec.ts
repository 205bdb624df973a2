import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { TestingModule } from '@nestjs/testing';
import { TasksHealthIndicator } from 'nestjs-tasks';
import { CronSchedule } from '#nestjs-tasks-internal';
import { databaseOptions } from '@app/jobs';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { createTasksApp } from '../support/in-process.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';

// TasksHealthIndicator.cronLate against cron_schedules and cron_job_runs of a migrated schema.
describe('TasksHealthIndicator.cronLate', () => {
  const prefix = uniquePrefix('cron-health');
  let schema: TestSchema;
  let app: TestingModule;
  let health: TasksHealthIndicator;

  const schedule = (name: string, expression: string, paused = false) =>
    schema.dataSource.query(
      `INSERT INTO cron_schedules (namespace, name, expression, time_zone, catch_up, overlap, paused) VALUES ($1, $2, $3, 'UTC', 'skip', 'skip', $4)`,
      [prefix, name, expression, paused],
    );
  const run = (name: string, tick: number, status: string) =>
    schema.dataSource.query(
      `INSERT INTO cron_job_runs (namespace, job_name, status, scheduled_at, attempt, trigger) VALUES ($1, $2, $3, $4, 1, 'schedule')`,
      [prefix, name, status, new Date(tick)],
    );
  // The tick the check looks at: the latest one due more than the grace ago.
  const dueTick = (expression: string, graceMs: number) => new CronSchedule(expression, 'UTC').previousTick(Date.now() - graceMs) as number;

  beforeAll(async () => {
    schema = await createTestSchema('cron_health');
    @Module({ imports: [TypeOrmModule.forRoot(databaseOptions({ ...process.env, ...schema.env }))] })
    class HealthDatabaseModule {}
    app = await createTasksApp({ tasks: { prefix }, imports: [HealthDatabaseModule] });
    health = app.get(TasksHealthIndicator);
  });

  afterAll(async () => {
    await app?.close();
    await schema?.drop();
    await deletePrefix(prefix);
  });

  it('is up when the due tick has a run, with the tick and the status', async () => {
    await schedule('daily', '0 3 * * *');
    const tick = dueTick('0 3 * * *', 60_000);
    await run('daily', tick, 'COMPLETED');
    expect(await health.cronLate('daily')).toEqual({ 'cron:daily': { status: 'up', tick: new Date(tick).toISOString(), lastStatus: 'COMPLETED' } });
  });

  it('is down, naming the tick, when the due tick has no run or only a MISSED row', async () => {
    await schedule('hourly', '0 * * * *');
    const tick = dueTick('0 * * * *', 60_000);
    const late = await health.cronLate('hourly');
    expect(late['cron:hourly']).toEqual({
      status: 'down',
      message: `late: the tick of ${new Date(tick).toISOString()} has no run 60000 ms after it (none started, or it was MISSED)`,
    });
    await run('hourly', tick, 'MISSED');
    expect((await health.cronLate('hourly'))['cron:hourly'].status).toBe('down');
  });

  it('is up while paused, and down for a cron no scheduler has', async () => {
    await schedule('paused', '* * * * * *', true);
    expect(await health.cronLate('paused', 1_000, 'paused')).toEqual({ paused: { status: 'up', paused: true } });
    expect(await health.cronLate('nope', 1_000, 'nope')).toEqual({
      nope: { status: 'down', message: `no scheduler has the cron "nope" under the prefix "${prefix}"` },
    });
  });
});
