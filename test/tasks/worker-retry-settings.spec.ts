import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskFailedError, type TaskClient, type TaskHandle } from 'nestjs-tasks';
import type { AppProcess, LogLine } from '../support/processes.js';
import { rejectionOf, startWorkerAndProducer, type WorkerAndProducer } from '../support/in-process.js';
import { uniquePrefix } from '../support/redis.js';

// A real worker process (test/fixtures/fixture-worker, which has FixtureTasks)
// and an in-process producer that has none of its tasks and other defaults.
describe('a task’s own @Task() retry settings apply wherever it is enqueued from', () => {
  let apps: WorkerAndProducer | undefined;
  let worker: AppProcess;
  let client: TaskClient;

  beforeAll(async () => {
    // Were the producer's settings applied, every failing job would run 6 times, 10 ms apart.
    apps = await startWorkerAndProducer(uniquePrefix('retryrule'), { tasks: { defaultAttempts: 6, defaultBackoff: { type: 'fixed', delayMs: 10 } } });
    ({ worker, client } = apps);
  });

  afterAll(() => apps?.stop());

  /** Waits for the job to fail for good, then returns the worker's started lines of it. */
  async function runsUntilFailed(handle: TaskHandle<unknown>): Promise<{ error: TaskFailedError; started: LogLine[] }> {
    const error = await rejectionOf(handle.waitResult({ timeoutMs: 30_000 }));
    expect(error).toBeInstanceOf(TaskFailedError);
    await worker.waitForLog((line) => line.jobId === handle.id && line.event === 'task.failed' && line.willRetry === false, 'the last attempt to fail');
    return { error: error as TaskFailedError, started: worker.lines.filter((line) => line.jobId === handle.id && line.event === 'task.started') };
  }

  it('retries a job enqueued by name as the worker’s @Task({ attempts: 3, backoffMs: 200 }) says', async () => {
    expect(client.knownTasks()).toEqual([]);
    const handle = await client.enqueue('fixture.slowRetries', {});
    const { error, started } = await runsUntilFailed(handle);

    expect(error).toMatchObject({ attemptsMade: 3 });
    expect(error.message).toContain('slowRetries fails attempt 3');
    expect(started.map((line) => line.msg)).toEqual([
      'Task fixture.slowRetries started (attempt 1/3)',
      'Task fixture.slowRetries started (attempt 2/3)',
      'Task fixture.slowRetries started (attempt 3/3)',
    ]);
    // Exponential from 200 ms: at least 200 ms before the second attempt, 400 ms before the third.
    const [first, second, third] = started.map((line) => Number(line.time));
    expect((second as number) - (first as number)).toBeGreaterThanOrEqual(200);
    expect((third as number) - (second as number)).toBeGreaterThanOrEqual(400);
  });

  it('gives a job the attempts enqueue set for it, with the worker’s backoff', async () => {
    const handle = await client.enqueue('fixture.slowRetries', {}, { attempts: 2 });
    const { error, started } = await runsUntilFailed(handle);

    expect(error).toMatchObject({ attemptsMade: 2 });
    expect(started.map((line) => line.msg)).toEqual([
      'Task fixture.slowRetries started (attempt 1/2)',
      'Task fixture.slowRetries started (attempt 2/2)',
    ]);
    expect(Number(started[1]?.time) - Number(started[0]?.time)).toBeGreaterThanOrEqual(200);
  });

  it('times out and fails a job enqueued by name by the worker’s @Task({ attempts: 1, timeoutMs: 200 })', async () => {
    const handle = await client.enqueue('hangs', {});
    const { error, started } = await runsUntilFailed(handle);

    expect(error).toMatchObject({ attemptsMade: 1 });
    expect(error.message).toContain('Task "hangs" exceeded its timeout of 200 ms');
    expect(started.map((line) => line.msg)).toEqual(['Task hangs started (attempt 1/1)']);
  });
});
