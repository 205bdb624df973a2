// libs/jobs/src/uploads/upload.tasks.kit.spec.ts
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { LoggerModule } from 'nestjs-pino';
import { TaskClient } from 'nestjs-tasks';
import { TasksTesting, TasksTestingModule } from 'nestjs-tasks/testing';
import { UploadTasks } from './upload.tasks.js';

// The feature module as the app declares it, without CoreModule (Redis, Postgres):
// the kit takes TasksModule's place, and logs go nowhere.
@Module({ providers: [UploadTasks] })
class UploadsModule {}

describe('UploadTasks, with the testing kit', () => {
  let app: TestingModule;
  let tasks: TasksTesting;
  let client: TaskClient;

  beforeEach(async () => {
    app = await Test.createTestingModule({
      imports: [
        TasksTestingModule.forRoot(),
        LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }),
        UploadsModule,
      ],
    }).compile();
    await app.init();
    tasks = app.get(TasksTesting);
    client = app.get(TaskClient);
  });

  afterEach(async () => {
    await app.close();
  });

  it('manual mode: the job waits until the test runs it', async () => {
    await client.enqueue(UploadTasks, 'processUpload', {
      uploadId: 'a',
      userId: 'u1',
    });

    // A partial match: only the fields given are compared.
    const job = tasks.expectEnqueued(UploadTasks, 'processUpload', {
      uploadId: 'a',
    });
    expect(job.state).toBe('waiting');
    tasks.expectNotEnqueued(UploadTasks, 'buildUploadReport');

    const outcomes = await tasks.drain();
    expect(outcomes).toMatchObject([
      { status: 'completed', attempt: 1, result: { processed: 'a' } },
    ]);
    expect(tasks.job(job.id)).toMatchObject({
      state: 'completed',
      progress: 100,
    });
    expect(
      tasks.publishedEvents('u1').map((event) => event.event.name),
    ).toEqual([
      'upload.started',
      ...Array<string>(5).fill('upload.progress'),
      'upload.completed',
    ]);
  });

  it('inline mode: enqueue runs the job before it resolves', async () => {
    const handle = await tasks.withMode('inline', () =>
      client.enqueue(UploadTasks, 'processUpload', { uploadId: 'b' }),
    );
    await expect(handle.waitResult()).resolves.toEqual({ processed: 'b' });
    expect(tasks.job(handle.id)?.state).toBe('completed');
  });

  it('routes the report task to its own queue', async () => {
    await client.enqueue(UploadTasks, 'buildUploadReport', {
      uploadIds: ['a', 'b'],
    });
    const job = tasks.expectEnqueued(
      UploadTasks,
      'buildUploadReport',
      { uploadIds: ['a', 'b'] },
      { count: 1 },
    );
    expect(job.queue).toBe('reports');
    const outcome = await tasks.runNext();
    expect(outcome).toMatchObject({
      status: 'completed',
      result: { uploads: 2 },
    });
    expect(await tasks.runNext()).toBeUndefined();
  });
});
