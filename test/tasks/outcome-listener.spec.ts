import { afterEach, describe, expect, it } from 'vitest';
import type { TestingModule } from '@nestjs/testing';
import { TaskClient, TaskWaitAbortedError, TaskWaitTimeoutError } from 'nestjs-tasks';
import { TaskWorkerHost } from '#nestjs-tasks-internal';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { createTasksApp, rejectionOf } from '../support/in-process.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait-for.js';

/** Settles like `promise`, or rejects when it is still pending after `ms`: a waiter that hangs fails the test instead of timing it out. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} was still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

// waitResult's listener of job outcomes: one per queue and process, opened by the first waiter.
describe('the result listener', () => {
  let server: ExtraRedisServer | undefined;
  let app: TestingModule | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await server?.stop();
    server = undefined;
  });

  it('opens again after its first connection failed: a later waitResult works once Redis is back', async () => {
    server = await ExtraRedisServer.start();
    app = await createTasksApp({ tasks: { redisUrl: server.url(), prefix: uniquePrefix('outcomes') }, imports: [FixtureTasksModule] });
    const client = app.get(TaskClient);
    const early = await client.enqueue(FixtureTasks, 'echo', { value: 1 });

    await server.kill();
    // Its first connection fails: the waiter learns it rather than waiting forever.
    await within(rejectionOf(early.waitResult()), 30_000, 'waitResult while Redis is down');

    await server.start();
    // The queue's own connection is back once an enqueue goes through.
    const later = await waitFor(() => client.enqueue(FixtureTasks, 'echo', { value: 2 }), { timeoutMs: 20_000, what: 'an enqueue once Redis is back' });
    await app.get(TaskWorkerHost).startConsuming();
    await expect(within(later.waitResult({ timeoutMs: 20_000 }), 30_000, 'waitResult once Redis is back')).resolves.toMatchObject({ value: 2 });
  });

  it('rejects the waiters still pending when the app closes with TaskWaitAbortedError, and later ones at once', async () => {
    const prefix = uniquePrefix('outcomeclose');
    const producer = await createTasksApp({ tasks: { prefix }, imports: [FixtureTasksModule] });
    const client = producer.get(TaskClient);
    const handle = await client.enqueue(FixtureTasks, 'echo', { value: 1 });
    // The listener is open once a first waiter has given up; the next one registers at once,
    // and its stored-state read is answered before another read of the job.
    expect(await rejectionOf(handle.waitResult({ timeoutMs: 1 }))).toBeInstanceOf(TaskWaitTimeoutError);
    const pending = within(rejectionOf(handle.waitResult()), 30_000, 'the pending waiter');
    await client.getJob(handle.id);
    await producer.close();
    await deletePrefix(prefix);

    const error = await pending;
    expect(error).toBeInstanceOf(TaskWaitAbortedError);
    expect(error.message).toBe(
      `Stopped waiting for task "echo" (job ${handle.id}): the app is shutting down. The job itself is unaffected; ` +
        `look it up with TaskClient.getJob('${handle.id}') from an app that runs.`,
    );
    expect(error).toMatchObject({ taskName: 'echo', jobId: handle.id });
    await expect(within(rejectionOf(handle.waitResult()), 10_000, 'a waiter after close')).resolves.toBeInstanceOf(TaskWaitAbortedError);
  });
});
