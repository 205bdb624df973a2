import { describe, expect, it } from 'vitest';
import { InvalidEnqueueOptionError, InvalidPayloadError, TaskClient } from 'nestjs-tasks';
import { TaskWorkerHost } from '#nestjs-tasks-internal';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { rejectionOf, tasksAppsPerTest, tasksQueue } from '../support/in-process.js';

describe('enqueue options', () => {
  const apps = tasksAppsPerTest('options');

  it('treats jobId as an idempotency key: the same key twice yields one job with that id', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule] });
    const client = app.get(TaskClient);

    const first = await client.enqueue(FixtureTasks, 'echo', { value: 1 }, { jobId: 'upload-abc123' });
    const second = await client.enqueue(FixtureTasks, 'echo', { value: 2 }, { jobId: 'upload-abc123' });
    expect(first.id).toBe('upload-abc123');
    expect(second.id).toBe('upload-abc123');
    expect(await tasksQueue(app).count()).toBe(1);

    await app.get(TaskWorkerHost).startConsuming();
    await expect(second.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 1 });
    // Still one job once it has finished, while it is retained.
    const third = await client.enqueue(FixtureTasks, 'echo', { value: 3 }, { jobId: 'upload-abc123' });
    await expect(third.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 1 });
    expect(await tasksQueue(app).getJobCounts('completed', 'waiting', 'active', 'delayed')).toEqual({
      completed: 1,
      waiting: 0,
      active: 0,
      delayed: 0,
    });
  });

  it('leaves attempts and backoff to the worker’s @Task() settings, storing only the attempts enqueue sets', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule] });
    const client = app.get(TaskClient);
    const queue = tasksQueue(app);
    const optsOf = async (handle: { id: string }) => (await queue.getJob(handle.id))?.opts;

    // The worker retries (test/tasks/worker-retry-settings.spec.ts); BullMQ's own cap never stops it.
    const plain = await optsOf(await client.enqueue(FixtureTasks, 'rejectsInput', { reason: 'r' }));
    expect(plain).toMatchObject({ attempts: 2_147_483_647, backoff: { type: 'nestjs-tasks' } });
    expect(plain?.backoff).not.toHaveProperty('attempts');
    expect(await optsOf(await client.enqueue(FixtureTasks, 'rejectsInput', { reason: 'r' }, { attempts: 2 }))).toMatchObject({
      backoff: { type: 'nestjs-tasks', attempts: 2 },
    });
  });

  it('holds a job back for delayMs', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const client = app.get(TaskClient);

    const later = await client.enqueue(FixtureTasks, 'echo', { value: 1 }, { delayMs: 60_000 });
    const soon = await client.enqueue(FixtureTasks, 'echo', { value: 2 }, { delayMs: 300 });
    await expect(soon.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 2 });

    const ran = await tasksQueue(app).getJob(soon.id);
    expect(ran?.opts.delay).toBe(300);
    expect((ran?.processedOn ?? 0) - (ran?.timestamp ?? 0)).toBeGreaterThanOrEqual(300);
    await expect(client.getJob(later.id)).resolves.toMatchObject({ state: 'delayed' });
  });

  it('runs waiting jobs by priority, 1 first', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], tasks: { concurrency: 1 } });
    const client = app.get(TaskClient);
    const handles = [];
    for (const [label, priority] of [['low', 100], ['high', 1], ['mid', 10]] as const) {
      handles.push(await client.enqueue(FixtureTasks, 'recordOrder', { label }, { priority }));
    }

    await app.get(TaskWorkerHost).startConsuming();
    const results = await Promise.all(handles.map((h) => h.waitResult({ timeoutMs: 20_000 })));
    const order = results.sort((a, b) => a.seq - b.seq).map((r) => r.label);
    expect(order).toEqual(['high', 'mid', 'low']);
  });

  it('rejects a payload that would not survive JSON at enqueue, naming the path, and adds nothing', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule] });
    const client = app.get(TaskClient);

    const error = await rejectionOf(client.enqueue('echo', { value: 1, meta: { size: 10n } } as never));
    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect(error.message).toContain('Payload of task "echo" is not JSON: payload.meta.size is a BigInt');
    expect(await tasksQueue(app).count()).toBe(0);
  });

  it.each([
    [{ jobId: 'a:b' }, 'option jobId is "a:b": it must not contain ":"'],
    [{ jobId: '42' }, 'option jobId is "42": an all-digit id could collide with generated ids'],
    [{ delayMs: -1 }, 'option delayMs is -1'],
    [{ priority: 0 }, 'option priority is 0'],
    [{ attempts: 0 }, 'option attempts is 0'],
  ])('rejects enqueue option %o', async (options, problem) => {
    const app = await apps.create({ imports: [FixtureTasksModule] });
    const error = await rejectionOf(app.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 1 }, options));
    expect(error).toBeInstanceOf(InvalidEnqueueOptionError);
    expect(error).toMatchObject({ taskName: 'echo', option: Object.keys(options)[0] });
    expect(error.message).toContain(problem);
    expect(await tasksQueue(app).count()).toBe(0);
  });
});
