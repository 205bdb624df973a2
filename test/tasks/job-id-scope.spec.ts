import { describe, expect, it } from 'vitest';
import { JobIdConflictError, TaskClient, TaskNotFoundError } from 'nestjs-tasks';
import { TaskWorkerHost } from '#nestjs-tasks-internal';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { rejectionOf, tasksAppsPerTest, tasksQueue } from '../support/in-process.js';

// Two tasks of one queue, one caller-chosen jobId or deduplication key: a
// caller never gets a handle on, or the result of, the other task's job.
describe('job ids and deduplication keys across tasks', () => {
  const apps = tasksAppsPerTest('idscope');

  it('refuses a jobId that names another task’s job, naming both tasks, and keeps the same task’s jobId idempotent', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule] });
    const client = app.get(TaskClient);
    const echo = await client.enqueue(FixtureTasks, 'echo', { value: 7 }, { jobId: 'shared' });

    for (const attempt of [
      () => client.enqueue(FixtureTasks, 'whoRuns', { n: 1 }, { jobId: 'shared' }),
      () => client.enqueue('fixture.whoRuns', { n: 1 }, { jobId: 'shared' }),
      () => client.enqueueMany([{ name: 'fixture.whoRuns', payload: { n: 1 }, options: { jobId: 'shared' } }]),
    ]) {
      const error = await rejectionOf(attempt());
      expect(error).toBeInstanceOf(JobIdConflictError);
      expect(error.message).toContain('jobId "shared"');
      expect(error.message).toContain('task "echo"');
      expect(error.message).toContain('enqueue("fixture.whoRuns")');
      expect(error).toMatchObject({ jobId: 'shared', taskName: 'fixture.whoRuns', takenBy: 'echo' });
    }
    // Two items of one batch: refused before anything is added.
    const batch = await rejectionOf(
      client.enqueueMany([
        { name: 'echo', payload: { value: 1 }, options: { jobId: 'pair' } },
        { name: 'fixture.whoRuns', payload: { n: 1 }, options: { jobId: 'pair' } },
      ]),
    );
    expect(batch).toBeInstanceOf(JobIdConflictError);
    expect(await tasksQueue(app).count()).toBe(1);
    // A batch whose one item names the other task's job: the rest is added, the caller told.
    const mixed = await rejectionOf(
      client.enqueueMany([
        { name: 'echo', payload: { value: 2 } },
        { name: 'fixture.whoRuns', payload: { n: 2 }, options: { jobId: 'shared' } },
      ]),
    );
    expect(mixed).toMatchObject({ name: 'JobIdConflictError', jobId: 'shared', takenBy: 'echo' });
    expect(await tasksQueue(app).count()).toBe(2);

    const again = await client.enqueue(FixtureTasks, 'echo', { value: 8 }, { jobId: 'shared' });
    expect(again.id).toBe(echo.id);
    await app.get(TaskWorkerHost).startConsuming();
    await expect(again.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 7 });
    await expect(client.getJob('shared')).resolves.toMatchObject({ name: 'echo', result: { value: 7 } });
  });

  it('deduplicates per task: one key for two tasks runs both, each caller gets its own task’s result', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule] });
    const client = app.get(TaskClient);
    const key = { deduplicate: { key: 'user-1' } };
    const echo = await client.enqueue(FixtureTasks, 'echo', { value: 3 }, key);
    const who = await client.enqueue(FixtureTasks, 'whoRuns', { n: 4 }, key);
    const byName = await client.enqueue('fixture.whoRuns', { n: 5 }, key);
    expect(who.id).not.toBe(echo.id);
    expect(byName.id).toBe(who.id);
    expect((await client.enqueue(FixtureTasks, 'echo', { value: 9 }, key)).id).toBe(echo.id);

    await app.get(TaskWorkerHost).startConsuming();
    await expect(echo.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 3 });
    await expect(who.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ n: 4 });
    await expect(byName.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ n: 4 });
  });

  it('a handle whose job is gone and whose id another task took rejects with TaskNotFoundError, never with that task’s result', async () => {
    // Retention keeps one completed job: each new one removes the one before.
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true, tasks: { keepCompleted: { ageSeconds: 3_600, count: 1 } } });
    const client = app.get(TaskClient);
    const first = await client.enqueue(FixtureTasks, 'echo', { value: 1 }, { jobId: 'reused' });
    await first.waitResult({ timeoutMs: 20_000 });
    await client.enqueue(FixtureTasks, 'whoRuns', { n: 1 }).then((handle) => handle.waitResult({ timeoutMs: 20_000 }));
    const taker = await client.enqueue(FixtureTasks, 'whoRuns', { n: 2 }, { jobId: 'reused' });
    await taker.waitResult({ timeoutMs: 20_000 });
    await expect(client.getJob('reused')).resolves.toMatchObject({ name: 'fixture.whoRuns', state: 'completed' });

    const error = await rejectionOf(first.waitResult({ timeoutMs: 20_000 }));
    expect(error).toBeInstanceOf(TaskNotFoundError);
    expect(error.message).toContain('Job reused');
    expect(error.message).toContain('task "fixture.whoRuns"');
  });
});
