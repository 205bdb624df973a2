// test/testing/jobs.real-stack.spec.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CronRegistry,
  CronRunStatus,
  CronRunsService,
  TaskClient,
} from 'nestjs-tasks';
import {
  purgeTasksPrefix,
  waitForCronRun,
  waitForJob,
} from 'nestjs-tasks/testing';
import { CoreModule, JobsModule, UploadTasks } from '@app/jobs';

// This file's own prefix: its Redis keys and run rows are its own, so test
// files can run at once on one Redis and one database. The app and the worker
// read their settings from the environment, as in production.
const prefix = `test_${randomUUID().slice(0, 8)}`;
process.env.TASKS_PREFIX = prefix;
// The test database, migrated before the tests run (npm run db:migrate).
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/tasks_test';

// Every wait includes the worker's boot: give it time on a busy CI machine.
const WAIT = { timeoutMs: 60_000 };

describe('uploads and cleanup on a real stack', { timeout: 90_000 }, () => {
  let worker: ChildProcess;
  let workerExited: Promise<unknown>;
  let app: TestingModule;

  beforeAll(async () => {
    // The worker as production runs it, built beforehand (npm run build).
    worker = spawn(process.execPath, ['dist/apps/worker/main.js'], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: 'inherit',
    });
    workerExited = once(worker, 'exit');
    app = await Test.createTestingModule({
      imports: [
        CoreModule.forRoot({ logger: { pinoHttp: { level: 'silent' } } }),
        JobsModule,
      ],
    }).compile();
    await app.init();
  });

  afterAll(async () => {
    // The worker first: while it runs, it writes under the prefix.
    worker.kill('SIGTERM');
    await workerExited;
    // Then the prefix's keys and rows, through the app's connections.
    await purgeTasksPrefix(app);
    await app.close();
  });

  it('processes an upload', async () => {
    const client = app.get(TaskClient);
    const handle = await client.enqueue(UploadTasks, 'processUpload', {
      uploadId: 'a',
    });
    const job = await waitForJob(client, handle, 'completed', WAIT);
    expect(job.result).toEqual({ processed: 'a' });
  });

  it('runs the cleanup cron when triggered', async () => {
    const since = new Date();
    await app.get(CronRegistry).trigger('cleanupExpiredData');
    const run = await waitForCronRun(
      app.get(CronRunsService),
      'cleanupExpiredData',
      CronRunStatus.COMPLETED,
      { since, ...WAIT },
    );
    expect(run).toMatchObject({
      trigger: 'manual',
      result: { deletedCount: expect.any(Number) },
    });
  });
});
// docs/testing.md shows this file down to here. Below, the repository's own
// check of the teardown, once the describe's afterAll has run.
import { leftoversOf } from '../support/leftovers.js';

afterAll(async () => {
  expect(await leftoversOf(prefix)).toEqual({
    keys: [],
    runs: 0,
    schedules: 0,
  });
});
