import { describe, expectTypeOf, test } from 'vitest';
import type { TaskClient, TaskContext, TaskHandle, TaskPayload, TaskResult } from 'nestjs-tasks';
import { UploadTasks, type ProcessUploadPayload } from '@app/jobs';
import { FixtureTasks } from '../fixtures/fixture-tasks.js';

declare const taskClient: TaskClient;

describe('TaskClient.enqueue types', () => {
  test('the typed overload takes the method’s payload and resolves with its result', async () => {
    const handle = await taskClient.enqueue(UploadTasks, 'processUpload', { uploadId: 'abc123' });
    expectTypeOf(handle).toEqualTypeOf<TaskHandle<{ processed: string }>>();
    expectTypeOf(handle.id).toEqualTypeOf<string>();
    expectTypeOf(handle.waitResult({ timeoutMs: 10_000 })).toEqualTypeOf<Promise<{ processed: string }>>();
    expectTypeOf<TaskPayload<UploadTasks, 'processUpload'>>().toEqualTypeOf<ProcessUploadPayload>();
    expectTypeOf<TaskResult<UploadTasks, 'processUpload'>>().toEqualTypeOf<{ processed: string }>();
  });

  test('a wrong payload is a compile error', async () => {
    // @ts-expect-error uploadId must be a string
    await taskClient.enqueue(UploadTasks, 'processUpload', { uploadId: 42 });
    // @ts-expect-error uploadId is required
    await taskClient.enqueue(UploadTasks, 'processUpload', {});
    // @ts-expect-error unknown field
    await taskClient.enqueue(UploadTasks, 'processUpload', { uploadId: 'abc', extra: true });
    // @ts-expect-error the payload is required
    await taskClient.enqueue(UploadTasks, 'processUpload');
  });

  test('a method that is not on the class is a compile error', async () => {
    // @ts-expect-error no such method
    await taskClient.enqueue(UploadTasks, 'processUploads', { uploadId: 'abc' });
  });

  test('a handler that takes only its payload works too, and enqueue options are typed', async () => {
    const handle = await taskClient.enqueue(FixtureTasks, 'echo', { value: 1 }, { jobId: 'k', delayMs: 5, priority: 1 });
    expectTypeOf(handle.waitResult()).resolves.toEqualTypeOf<{ value: number; pid: number }>();
    // @ts-expect-error delayMs is a number
    await taskClient.enqueue(FixtureTasks, 'echo', { value: 1 }, { delayMs: '5' });
  });

  test('the by-name overload takes JSON payloads and resolves with what the caller states', async () => {
    const handle = await taskClient.enqueue<{ processed: string }>('processUpload', { uploadId: 'abc123' });
    expectTypeOf(handle.waitResult()).resolves.toEqualTypeOf<{ processed: string }>();
    expectTypeOf((await taskClient.enqueue('processUpload', { uploadId: 'x' })).waitResult()).resolves.toBeUnknown();
    // @ts-expect-error a function is not JSON
    await taskClient.enqueue('processUpload', { uploadId: 'abc', done: () => undefined });
  });

  test('a task method receives a TaskContext', () => {
    expectTypeOf<UploadTasks['processUpload']>().parameter(1).toEqualTypeOf<TaskContext>();
  });
});
