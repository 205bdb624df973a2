import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { LoggerModule } from 'nestjs-pino';
import { TaskClient, TasksModule } from 'nestjs-tasks';
import { TasksExpectationError, purgeTasksPrefix, waitForJob, type PurgedTasksPrefix } from 'nestjs-tasks/testing';
import { databaseOptions } from '@app/jobs/database/database.options.js';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { TEST_DATABASE_URL } from '../support/postgres.js';
import { AppProcess, ENTRY } from '../support/processes.js';
import { REDIS_URL, uniquePrefix } from '../support/redis.js';
import { leftoversOf, removeRowsOf } from '../support/leftovers.js';
import { rejectionOf } from '../support/in-process.js';

// The recipe of docs/testing.md ("Real-stack tests") with the fixture worker,
// whose tasks fail, fail for good, or succeed after retries: an own prefix for
// the file, a worker process started without waiting for it (the waits include
// its boot), and the teardown the page shows, checked to leave nothing behind.

const prefix = uniquePrefix('waitfor');
const OTHER = `${prefix}-other`;
const redis = new Redis(REDIS_URL);
let purged: PurgedTasksPrefix | undefined;
const WAIT = { timeoutMs: 60_000 };

@Module({
  imports: [
    LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }),
    TasksModule.forRoot({ redisUrl: REDIS_URL, prefix }),
    TypeOrmModule.forRoot({ ...databaseOptions({ ...process.env, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: undefined }), retryAttempts: 0 }),
    FixtureTasksModule,
  ],
})
class ProducerModule {}

describe('waitForJob and purgeTasksPrefix on Redis, Postgres and a worker process', { timeout: 90_000 }, () => {
  let worker: AppProcess;
  let app: TestingModule;
  let client: TaskClient;

  beforeAll(async () => {
    worker = new AppProcess('fixture-worker', ENTRY.fixtureWorker, { TASKS_PREFIX: prefix, REDIS_URL, DATABASE_URL: TEST_DATABASE_URL, TASKS_SHUTDOWN_GRACE_MS: '1000' });
    app = await (await Test.createTestingModule({ imports: [ProducerModule] }).compile()).init();
    client = app.get(TaskClient);
    // What a scheduler and a cron run of this prefix leave in Postgres, and the like of another prefix beside them,
    // with a Redis key of a prefix that only begins like this one: the teardown deletes the first, never the others.
    const database = app.get(DataSource);
    for (const namespace of [prefix, OTHER]) {
      await database.query(`INSERT INTO cron_schedules (namespace, name, expression, time_zone, catch_up, overlap) VALUES ($1, 'nightly', '0 3 * * *', 'UTC', 'skip', 'skip')`, [namespace]);
      await database.query(`INSERT INTO cron_job_runs (namespace, job_name, status, scheduled_at) VALUES ($1, 'nightly', 'COMPLETED', now())`, [namespace]);
    }
    await redis.set(`${OTHER}:kept`, '1');
  });

  afterAll(async () => {
    // The teardown of docs/testing.md: the processes first, then the prefix's keys and rows, then the app.
    expect(await worker.stop(), `the fixture worker did not stop cleanly:\n${worker.tail()}`).toBe(0);
    purged = await purgeTasksPrefix(app);
    await app.close();
  });

  it('resolves with a job that completes, and with one retried until it does', async () => {
    const echo = await waitForJob(client, await client.enqueue(FixtureTasks, 'echo', { value: 41 }), 'completed', WAIT);
    expect(echo).toMatchObject({ name: 'echo', state: 'completed', result: { value: 41, pid: worker.pid }, attemptsMade: 1 });

    // Its failed attempts leave it delayed, not failed: the wait goes on until the third attempt completes.
    const flaky = await waitForJob(client, await client.enqueue(FixtureTasks, 'flaky', { failTimes: 2 }), 'completed', WAIT);
    expect(flaky).toMatchObject({ state: 'completed', result: { attempt: 3 }, attemptsMade: 3 });
  });

  it('resolves with a job that failed for good when awaited as failed, and fails at once with its error when awaited as completed', async () => {
    const handle = await client.enqueue(FixtureTasks, 'rejectsInput', { reason: 'an empty file' });
    const failed = await waitForJob(client, handle, 'failed', WAIT);
    expect(failed).toMatchObject({ state: 'failed', error: 'bad input: an empty file', attemptsMade: 1 });

    const error = await rejectionOf(waitForJob(client, handle, 'completed', WAIT));
    expect(error).toBeInstanceOf(TasksExpectationError);
    expect(error.message).toBe(
      `waitForJob: job ${handle.id} (task "rejectsInput") failed for good after 1 attempt(s), so it will not reach 'completed'. Its error: bad input: an empty file`,
    );
  });

  it('times out on a job no worker takes yet, saying what it last saw and what to check', async () => {
    const handle = await client.enqueue(FixtureTasks, 'echo', { value: 1 }, { delayMs: 3_600_000 });
    // Long enough for a first read to answer on a loaded machine: the message then has what it saw.
    const error = await rejectionOf(waitForJob(client, handle, 'completed', { timeoutMs: 2_000 }));
    expect(error).toBeInstanceOf(TasksExpectationError);
    expect(error.message).toContain(`waitForJob: job ${handle.id} did not reach 'completed' within 2000 ms (last seen: task "echo", 'delayed', 0 attempt(s) made).`);
    expect(error.message).toContain('Is a worker running that consumes queue "default", on the same Redis and prefix (TASKS_PREFIX) as this app?');
  });
});

// Runs after the describe's afterAll: what the teardown deleted, and that nothing of the prefix is left, and only of it.
afterAll(async () => {
  try {
    expect(purged).toMatchObject({ prefix, runs: 1, schedules: 1 });
    expect(purged?.keys).toBeGreaterThan(0);
    expect(await leftoversOf(prefix)).toEqual({ keys: [], runs: 0, schedules: 0 });
    expect(await leftoversOf(OTHER)).toEqual({ keys: [`${OTHER}:kept`], runs: 1, schedules: 1 });
  } finally {
    await redis.del(`${OTHER}:kept`);
    await removeRowsOf(OTHER);
    redis.disconnect();
  }
});
