import { describe, expectTypeOf, test } from 'vitest';
import type { TaskContext } from '../task/task-context.interface.js';
import type { TaskHandle } from '../client/task-client.types.js';
import { Task } from '../task/task.decorator.js';
import type { TestingTaskClient } from './testing-task-client.js';
import type { TasksTesting } from './tasks-testing.js';
import type { EnqueuedJob } from './testing-jobs.js';

class UploadTasks {
  @Task()
  async processUpload(payload: { uploadId: string; userId?: string }, _ctx: TaskContext): Promise<{ processed: string }> {
    return { processed: payload.uploadId };
  }

  @Task()
  async tags(payload: { tags: string[]; meta: { source: string; size: number } }): Promise<number> {
    return payload.tags.length;
  }
}

declare const client: TestingTaskClient;
declare const tasks: TasksTesting;

describe('the kit’s TaskClient types', () => {
  test('the typed enqueue takes the method’s payload and resolves with its result, as TaskClient’s', async () => {
    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    expectTypeOf(handle).toEqualTypeOf<TaskHandle<{ processed: string }>>();
    expectTypeOf(handle.waitResult()).toEqualTypeOf<Promise<{ processed: string }>>();
  });

  test('a wrong payload is a compile error', async () => {
    // @ts-expect-error uploadId must be a string
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 42 });
    // @ts-expect-error uploadId is required
    await client.enqueue(UploadTasks, 'processUpload', { userId: 'u' });
    // @ts-expect-error unknown field
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a', extra: true });
    // @ts-expect-error the payload is required
    await client.enqueue(UploadTasks, 'processUpload');
    // @ts-expect-error no such method
    await client.enqueue(UploadTasks, 'processUploads', { uploadId: 'a' });
    // @ts-expect-error delayMs is a number
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' }, { delayMs: '5' });
  });

  test('by name, the payload must be JSON', async () => {
    await client.enqueue('processUpload', { uploadId: 'a' });
    // @ts-expect-error a function is no JSON
    await client.enqueue('processUpload', { uploadId: () => 'a' });
  });
});

describe('TasksTesting types', () => {
  test('expectations match the method’s payload partially, and type the job', () => {
    const job = tasks.expectEnqueued(UploadTasks, 'processUpload', { uploadId: 'a' });
    expectTypeOf(job).toEqualTypeOf<EnqueuedJob<{ uploadId: string; userId?: string }, { processed: string }>>();
    tasks.expectEnqueued(UploadTasks, 'tags', { meta: { source: 'api' } });
    tasks.expectEnqueued(UploadTasks, 'tags', { tags: ['a'] }, { count: 1 });
    // @ts-expect-error uploadId is a string
    tasks.expectEnqueued(UploadTasks, 'processUpload', { uploadId: 1 });
    // @ts-expect-error no such field
    tasks.expectNotEnqueued(UploadTasks, 'processUpload', { upload: 'a' });
    // @ts-expect-error no such method
    tasks.enqueued(UploadTasks, 'nope');
  });
});
