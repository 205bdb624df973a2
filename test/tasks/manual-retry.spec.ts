import { describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { TaskClient, TaskFailedError, type TaskHandle } from 'nestjs-tasks';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { logs, rejectionOf, tasksAppsPerTest, tasksQueue } from '../support/in-process.js';
import type { LogLine } from '../support/processes.js';
import { waitFor } from '../support/wait-for.js';

/** What Bull Board's Retry button does: `job.retry(state)` on a failed (or completed) job, attempts not reset. */
async function retryLikeBullBoard(queue: Queue, jobId: string): Promise<void> {
  const job = await queue.getJob(jobId);
  if (!job) throw new Error(`job ${jobId} is gone`);
  const state = await job.getState();
  if (state !== 'failed' && state !== 'completed') throw new Error(`job ${jobId} is ${state}, not retriable`);
  await job.retry(state);
}

/** The started and failed lines the worker logged for a job, as [event, message]. */
function runLines(jobId: string): Array<[unknown, unknown]> {
  return logs
    .ofJob(jobId)
    .filter((line: LogLine) => line.event === 'task.started' || line.event === 'task.failed')
    .map((line) => [line.event, line.event === 'task.failed' ? `willRetry ${String(line.willRetry)}` : line.msg]);
}

async function failsForGood(handle: TaskHandle<unknown>): Promise<TaskFailedError> {
  const error = await rejectionOf(handle.waitResult({ timeoutMs: 20_000 }));
  expect(error).toBeInstanceOf(TaskFailedError);
  return error as TaskFailedError;
}

// A real worker (in-process) on the real Redis; jobs retried by hand as Bull Board does.
describe('attempt numbers after a manual retry', () => {
  const apps = tasksAppsPerTest('manualretry');

  it('starts a new round of the task’s attempts for a job that used them all, logged as a manual retry', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const client = app.get(TaskClient);
    const queue = tasksQueue(app);
    // fixture.failsRuns has attempts: 2; its first 4 runs fail.
    const handle = await client.enqueue('fixture.failsRuns', { key: 'round', failRuns: 4 });
    await failsForGood(handle);

    await retryLikeBullBoard(queue, handle.id);
    expect((await failsForGood(handle)).attemptsMade).toBe(4);
    await retryLikeBullBoard(queue, handle.id);
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ runs: 5 });

    expect(app.get(FixtureTasks).runsByKey.get('round')).toEqual([
      { attempt: 1, maxAttempts: 2 },
      { attempt: 2, maxAttempts: 2 },
      { attempt: 1, maxAttempts: 2 },
      { attempt: 2, maxAttempts: 2 },
      { attempt: 1, maxAttempts: 2 },
    ]);
    await logs.waitFor((line) => line.jobId === handle.id && line.event === 'task.completed', 'the fifth run to complete');
    expect(runLines(handle.id)).toEqual([
      ['task.started', 'Task fixture.failsRuns started (attempt 1/2)'],
      ['task.failed', 'willRetry true'],
      ['task.started', 'Task fixture.failsRuns started (attempt 2/2)'],
      ['task.failed', 'willRetry false'],
      ['task.started', 'Task fixture.failsRuns started (attempt 1/2, manual retry)'],
      ['task.failed', 'willRetry true'],
      ['task.started', 'Task fixture.failsRuns started (attempt 2/2)'],
      ['task.failed', 'willRetry false'],
      ['task.started', 'Task fixture.failsRuns started (attempt 1/2, manual retry)'],
    ]);
    const manual = logs.ofJob(handle.id).filter((line) => line.manualRetry === true);
    expect(manual.map((line) => [line.attempt, line.attemptsMade])).toEqual([
      [1, 2],
      [1, 4],
    ]);
    await expect(client.getJob(handle.id)).resolves.toMatchObject({ state: 'completed', attemptsMade: 5 });
  });

  it('goes on with the rest of the round for a job that failed early (NonRetriableError)', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const queue = tasksQueue(app);
    // rejectsInput has attempts: 5 and always throws NonRetriableError.
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'rejectsInput', { reason: 'gone' });
    await failsForGood(handle);
    await retryLikeBullBoard(queue, handle.id);
    await failsForGood(handle);

    await logs.waitFor((line) => line.jobId === handle.id && line.event === 'task.failed' && line.attempt === 2, 'the retried run to fail');
    expect(runLines(handle.id)).toEqual([
      ['task.started', 'Task rejectsInput started (attempt 1/5)'],
      ['task.failed', 'willRetry false'],
      ['task.started', 'Task rejectsInput started (attempt 2/5, manual retry)'],
      ['task.failed', 'willRetry false'],
    ]);
  });

  it('numbers the one run BullMQ gives a job added without the library’s options as its last attempt', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const queue = tasksQueue(app);
    // Admin code, or Bull Board's "Add job": BullMQ retries it by its own options.
    const job = await queue.add('fixture.failsRuns', { key: 'plain', failRuns: 3 }, { attempts: 2, backoff: { type: 'fixed', delay: 10 } });
    const id = job.id as string;
    await logs.waitFor((line) => line.jobId === id && line.event === 'task.failed' && line.willRetry === false, 'the second attempt to fail');
    await retryLikeBullBoard(queue, id);
    await waitFor(() => logs.ofJob(id).filter((line) => line.event === 'task.failed').length === 3, { what: 'the retried run to fail' });

    expect(runLines(id)).toEqual([
      ['task.started', 'Task fixture.failsRuns started (attempt 1/2)'],
      ['task.failed', 'willRetry true'],
      ['task.started', 'Task fixture.failsRuns started (attempt 2/2)'],
      ['task.failed', 'willRetry false'],
      ['task.started', 'Task fixture.failsRuns started (attempt 2/2, manual retry)'],
      ['task.failed', 'willRetry false'],
    ]);
    await expect(queue.getJob(id)).resolves.toMatchObject({ attemptsMade: 3, failedReason: 'failsRuns: run 3 fails' });
    expect(await (await queue.getJob(id))?.getState()).toBe('failed');
  });
});
