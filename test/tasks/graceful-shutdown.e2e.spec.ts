import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestingModule } from '@nestjs/testing';
import { TaskClient, type TaskHandle } from 'nestjs-tasks';
import type { ProcessUploadResult } from '@app/jobs';
import { createTasksApp } from '../support/in-process.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { startApp, workerReady, type AppProcess, type LogLine } from '../support/processes.js';
import { waitFor } from '../support/wait-for.js';

// Two built apps/worker processes share a prefix; the test SIGTERMs the one that took the job.
describe('graceful shutdown of apps/worker', () => {
  let prefix: string;
  let producer: TestingModule | undefined;
  let workers: AppProcess[] = [];

  beforeEach(() => {
    prefix = uniquePrefix('shutdown');
    workers = [];
  });

  afterEach(async () => {
    await producer?.close();
    producer = undefined;
    await Promise.all(workers.map((w) => w.stop()));
    await deletePrefix(prefix);
  });

  async function startWorkers(env: Record<string, string>): Promise<void> {
    workers = await Promise.all(
      ['worker-a', 'worker-b'].map((name) => startApp('worker', { TASKS_PREFIX: prefix, ...env }, workerReady, name)),
    );
    // A producer that, like an api without the worker code, enqueues by name.
    producer = await createTasksApp({ tasks: { prefix, allowUnregisteredTasks: true } });
  }

  async function enqueueUpload(uploadId: string): Promise<TaskHandle<ProcessUploadResult>> {
    return (producer as TestingModule).get(TaskClient).enqueue<ProcessUploadResult>('processUpload', { uploadId });
  }

  const jobLine = (jobId: string, event: string) => (l: LogLine) => l.jobId === jobId && l.event === event;

  /** The worker that started the job, once one has. */
  function workerRunning(jobId: string): Promise<AppProcess> {
    return waitFor(() => workers.find((w) => w.lines.some(jobLine(jobId, 'task.started'))), { what: `a worker to start job ${jobId}` });
  }

  it('hands a job still running after the grace period back to the queue, where the other worker finishes it; the first exits 0', async () => {
    // processUpload runs 5 steps of 700 ms: far longer than the 300 ms grace period.
    await startWorkers({ EXAMPLE_UPLOAD_STEP_MS: '700', TASKS_SHUTDOWN_GRACE_MS: '300' });
    const handle = await enqueueUpload('handed-back');
    const first = await workerRunning(handle.id);
    const second = workers.find((w) => w !== first) as AppProcess;

    first.signal('SIGTERM');
    await expect(first.exited).resolves.toBe(0);
    expect(first.lines.some((l) => l.msg === `Job ${handle.id} (processUpload) handed back to the queue`)).toBe(true);
    expect(first.lines.some(jobLine(handle.id, 'task.interrupted'))).toBe(true);
    expect(first.lines.some(jobLine(handle.id, 'task.failed'))).toBe(false);

    await expect(handle.waitResult({ timeoutMs: 30_000 })).resolves.toEqual({ processed: 'handed-back' });
    const completed = await second.waitForLog(jobLine(handle.id, 'task.completed'), 'task.completed');
    expect(completed.pid).toBe(second.pid);
    // Handing back does not use up an attempt: the rerun is still the first attempt.
    expect(completed.attempt).toBe(1);
    expect(first.lines.some(jobLine(handle.id, 'task.completed'))).toBe(false);
  });

  it('lets a job that ends within the grace period finish on the same worker, which then exits 0', async () => {
    // 5 steps of 200 ms, well within a 20 s grace period.
    await startWorkers({ EXAMPLE_UPLOAD_STEP_MS: '200', TASKS_SHUTDOWN_GRACE_MS: '20000' });
    const handle = await enqueueUpload('finished-in-grace');
    const first = await workerRunning(handle.id);
    const second = workers.find((w) => w !== first) as AppProcess;

    first.signal('SIGTERM');
    await expect(first.exited).resolves.toBe(0);
    const completed = first.lines.find(jobLine(handle.id, 'task.completed'));
    expect(completed?.pid).toBe(first.pid);
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ processed: 'finished-in-grace' });
    expect(first.lines.some((l) => l.msg.includes('handed back'))).toBe(false);
    expect(second.lines.some((l) => l.jobId === handle.id)).toBe(false);
  });
});
