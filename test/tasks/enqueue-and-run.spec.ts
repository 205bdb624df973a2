import { describe, expect, it } from 'vitest';
import { TaskClient, TaskFailedError, TaskWaitTimeoutError } from 'nestjs-tasks';
import { TaskWorkerHost } from '#nestjs-tasks-internal';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { logs, rejectionOf, tasksAppsPerTest, tasksQueue } from '../support/in-process.js';

// Integration against Redis on 127.0.0.1: in-process apps, each test under its own TASKS_PREFIX.
describe('enqueue → worker → result', () => {
  const apps = tasksAppsPerTest('run');

  it('delivers the handler’s return value to waitResult, for the class and the by-name form', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const client = app.get(TaskClient);

    const byClass = await client.enqueue(FixtureTasks, 'echo', { value: 7 });
    expect(byClass.name).toBe('echo');
    await expect(byClass.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 7, pid: process.pid });

    const byName = await client.enqueue<{ value: number }>('echo', { value: 8 });
    await expect(byName.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 8 });

    await expect(client.getJob(byClass.id)).resolves.toMatchObject({
      id: byClass.id,
      name: 'echo',
      state: 'completed',
      result: { value: 7, pid: process.pid },
    });
  });

  it('passes the handler a TaskContext with its jobId, task name, attempt and a live signal', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'describeContext', {}, { jobId: 'ctx-1' });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({
      jobId: 'ctx-1',
      taskName: 'fixture.describeContext',
      attempt: 1,
      maxAttempts: 3,
      enqueuedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      aborted: false,
    });
  });

  it('retries a failing task and resolves when a later attempt succeeds', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'flaky', { failTimes: 2 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ attempt: 3 });
  });

  it('rejects waitResult with TaskFailedError carrying the remote message once every attempt failed', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'flaky', { failTimes: 3 });

    const error = await rejectionOf(handle.waitResult({ timeoutMs: 20_000 }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toContain('flaky failure on attempt 3');
    expect(error).toMatchObject({ taskName: 'flaky', jobId: handle.id, attemptsMade: 3 });
    await expect(app.get(TaskClient).getJob(handle.id)).resolves.toMatchObject({
      state: 'failed',
      attemptsMade: 3,
      error: 'flaky failure on attempt 3',
    });
  });

  it('fails a task that throws NonRetriableError at once, despite attempts left', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'rejectsInput', { reason: 'no such upload' });

    const error = await rejectionOf(handle.waitResult({ timeoutMs: 20_000 }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toContain('bad input: no such upload');
    expect(error).toMatchObject({ attemptsMade: 1 });
    const job = await tasksQueue(app).getJob(handle.id);
    await logs.waitFor((l) => l.jobId === handle.id && l.msg === 'Task rejectsInput started (attempt 1/5)', 'the run to show its 5 attempts');
    expect(job?.attemptsMade).toBe(1);
  });

  it('fails an attempt that outlives @Task({ timeoutMs }) with TaskTimeoutError, aborting ctx.signal', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'hangs', {});

    const error = await rejectionOf(handle.waitResult({ timeoutMs: 20_000 }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toContain('Task "hangs" exceeded its timeout of 200 ms');
    const aborted = await logs.waitFor((l) => l.jobId === handle.id && l.msg === 'hangs saw its signal abort', 'the handler to see its signal abort');
    expect(aborted).toMatchObject({ abortReason: 'TaskTimeoutError', abortMessage: expect.stringContaining('exceeded its timeout') });
  });

  it('rejects waitResult({ timeoutMs }) with TaskWaitTimeoutError, leaving the job to run later', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule] });
    const client = app.get(TaskClient);
    const handle = await client.enqueue(FixtureTasks, 'echo', { value: 1 });

    const error = await rejectionOf(handle.waitResult({ timeoutMs: 100 }));
    expect(error).toBeInstanceOf(TaskWaitTimeoutError);
    expect(error).toMatchObject({ taskName: 'echo', jobId: handle.id });
    expect(error.message).toContain('did not finish within 100 ms');
    await expect(client.getJob(handle.id)).resolves.toMatchObject({ state: 'waiting' });

    await app.get(TaskWorkerHost).startConsuming();
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 1 });
  });
});
