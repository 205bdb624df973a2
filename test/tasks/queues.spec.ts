import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Injectable, Module, type Type } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Queue } from 'bullmq';
import { Task, TaskCancelledError, TaskClient, TasksConfigurationError, bullQueueName } from 'nestjs-tasks';
import { AppProcess, ENTRY, workerReady } from '../support/processes.js';
import { createTasksApp, rejectionOf } from '../support/in-process.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { FixtureTasksModule, type QueuedRun } from '../fixtures/fixture-tasks.js';

/** A task only a worker in this process has, on the reports queue. */
@Injectable()
class InProcessOnlyTasks {
  @Task({ name: 'extra.onlyInThisProcess', queue: 'reports', attempts: 1 })
  onlyHere(): Promise<{ pid: number }> {
    return Promise.resolve({ pid: process.pid });
  }
}

@Module({ providers: [InProcessOnlyTasks] })
class InProcessOnlyModule {}

// Real worker processes (test/fixtures/fixture-worker) as pools of some queues, on one prefix.
describe('task queues and worker pools', () => {
  const prefixes: string[] = [];
  const processes: AppProcess[] = [];
  const apps: TestingModule[] = [];

  afterAll(async () => {
    await Promise.all(processes.map((app) => app.stop()));
    for (const app of apps.reverse()) await app.close();
    await Promise.all(prefixes.map((prefix) => deletePrefix(prefix)));
  });

  const prefix = () => {
    const p = uniquePrefix('queues');
    prefixes.push(p);
    return p;
  };
  const pool = async (name: string, env: Record<string, string>) => {
    const app = new AppProcess(name, ENTRY.fixtureWorker, env);
    processes.push(app);
    await app.waitForLog(workerReady, `${name} to consume`, 60_000);
    return app;
  };
  const producer = async (p: string, imports: Array<Type<unknown>> = [FixtureTasksModule], worker = false) => {
    const app = await createTasksApp({ tasks: { prefix: p }, imports, worker });
    apps.push(app);
    return app.get(TaskClient);
  };

  describe('two pools on one prefix', () => {
    const p = prefix();
    let reports: AppProcess;
    let mail: AppProcess;
    let client: TaskClient;

    beforeAll(async () => {
      [reports, mail] = await Promise.all([
        pool('reports-pool', { TASKS_PREFIX: p, WORKER_QUEUES: 'reports:2' }),
        pool('mail-pool', { TASKS_PREFIX: p, WORKER_QUEUES: 'mail', FIXTURE_QUEUES: JSON.stringify({ mail: { rateLimit: { max: 2, durationMs: 1_000 } } }) }),
      ]);
      client = await producer(p);
    });

    it('each run only their queues’ tasks, routed by the task’s queue without the caller naming it', async () => {
      const reportHandles = await Promise.all(Array.from({ length: 4 }, () => client.enqueue('fixture.report', { ms: 10 })));
      const mailHandles = await Promise.all(Array.from({ length: 2 }, () => client.enqueue('fixture.mail', { ms: 10 })));
      expect(reportHandles[0]?.id).toMatch(/^reports:\d+$/);
      expect(mailHandles[0]?.id).toMatch(/^mail:\d+$/);
      const reportRuns = (await Promise.all(reportHandles.map((h) => h.waitResult({ timeoutMs: 30_000 })))) as QueuedRun[];
      const mailRuns = (await Promise.all(mailHandles.map((h) => h.waitResult({ timeoutMs: 30_000 })))) as QueuedRun[];
      expect(new Set(reportRuns.map((run) => run.pid))).toEqual(new Set([reports.pid]));
      expect(new Set(mailRuns.map((run) => run.pid))).toEqual(new Set([mail.pid]));
      // getJob finds them by their public id, in their own queue.
      expect(await client.getJob(reportHandles[0]?.id as string)).toMatchObject({ id: reportHandles[0]?.id, name: 'fixture.report', state: 'completed' });
      expect(reports.lines.some((line) => String(line.msg).includes('from queue(s) reports (concurrency 2)'))).toBe(true);
    });

    it('hold the queue’s concurrency: never more than 2 reports at once in the pool of concurrency 2', async () => {
      const handles = await Promise.all(Array.from({ length: 8 }, () => client.enqueue('fixture.report', { ms: 300 })));
      const runs = (await Promise.all(handles.map((h) => h.waitResult({ timeoutMs: 30_000 })))) as QueuedRun[];
      expect(Math.max(...runs.map((run) => run.concurrent))).toBe(2);
    });

    it('hold the queue’s rate limit: at most 2 mails start per second', async () => {
      const handles = await Promise.all(Array.from({ length: 6 }, () => client.enqueue('fixture.mail', { ms: 1 })));
      const runs = (await Promise.all(handles.map((h) => h.waitResult({ timeoutMs: 30_000 })))) as QueuedRun[];
      // BullMQ's limiter counts activations in fixed windows that open at the first activation
      // after the previous one expired: any five activations of a limit of 2 span three windows,
      // so the last comes at least a full window after the first. An activation happens after
      // the worker stamps the job's processedOn and before the handler reads its clock, so the
      // bound holds for those two whatever the load delays between them.
      const queue = new Queue(bullQueueName('mail'), { connection: { url: REDIS_URL }, prefix: p });
      try {
        const processedOn = await Promise.all(
          handles.map(async (h) => (await queue.getJob(h.id.slice('mail:'.length)))?.processedOn as number),
        );
        const jobs = runs.map((run, i) => ({ activatedAfter: processedOn[i] as number, startedAt: run.startedAt })).sort((a, b) => a.activatedAfter - b.activatedAfter);
        const shown = jobs.map((job) => `${job.activatedAfter}→${job.startedAt}`).join(', ');
        for (let i = 0; i + 4 < jobs.length; i++) {
          const five = jobs.slice(i, i + 5);
          const span = Math.max(...five.map((job) => job.startedAt)) - Math.min(...five.map((job) => job.activatedAfter));
          // Less a millisecond: PEXPIRE and both clocks count whole milliseconds.
          expect(span, `processedOn→handler start: ${shown}`).toBeGreaterThanOrEqual(999);
        }
      } finally {
        await queue.close();
      }
    });
  });

  it('a pool lacking the handler of a task another running worker has on its queue boots, and that task’s jobs run on that worker', async () => {
    const p = prefix();
    const client = await producer(p, [FixtureTasksModule, InProcessOnlyModule], true);
    const lacking = await pool('lacking-pool', { TASKS_PREFIX: p, WORKER_QUEUES: 'reports' });
    const warned = lacking.lines.filter((line) => line.context === 'TaskWorkerHost' && String(line.msg).includes('extra.onlyInThisProcess'));
    expect(warned.map((line) => line.msg)).toEqual([expect.stringContaining('"extra.onlyInThisProcess" on queue "reports" (run by 1 running worker(s))')]);
    // Whichever worker takes them, they run here; the pool still runs the reports it has.
    const handles = await Promise.all(Array.from({ length: 6 }, () => client.enqueue('extra.onlyInThisProcess', {})));
    const runs = (await Promise.all(handles.map((h) => h.waitResult({ timeoutMs: 30_000 })))) as { pid: number }[];
    expect(new Set(runs.map((run) => run.pid))).toEqual(new Set([process.pid]));
    expect(lacking.running).toBe(true);
  });

  it('a pool told to consume a queue none of its tasks is on fails its boot naming it', async () => {
    const wrong = new AppProcess('wrong-pool', ENTRY.fixtureWorker, { TASKS_PREFIX: prefix(), WORKER_QUEUES: 'nosuchqueue' });
    processes.push(wrong);
    expect(await wrong.exited).not.toBe(0);
    expect(wrong.tail()).toContain('told to consume the queue "nosuchqueue", but none of its tasks is on it');
    // The message names the queue once.
    expect(wrong.output.find((line) => line.includes('told to consume'))?.split('"nosuchqueue"')).toHaveLength(2);
  });

  it('rejects a bad queue name at the decorator and a queue option that contradicts the task', async () => {
    expect(() => {
      class Bad {
        @Task({ queue: 'Reports!' })
        run(): void {}
      }
      return Bad;
    }).toThrow(TasksConfigurationError);
    const client = await producer(prefix());
    const error = await rejectionOf(client.enqueue('fixture.report', { ms: 1 }, { queue: 'mail' }));
    expect(error.message).toContain(`the task's own queue "reports"`);
  });
});

// A worker process and a producer in this process: what an enqueuer sees of a job.
describe('deduplication and progress', () => {
  const p = uniquePrefix('dedup');
  let worker: AppProcess;
  let app: TestingModule;
  let client: TaskClient;

  beforeAll(async () => {
    worker = new AppProcess('worker', ENTRY.fixtureWorker, { TASKS_PREFIX: p });
    app = await createTasksApp({ tasks: { prefix: p }, imports: [FixtureTasksModule] });
    client = app.get(TaskClient);
    await worker.waitForLog(workerReady, 'the worker to consume', 60_000);
  });

  afterAll(async () => {
    await worker?.stop();
    await app?.close();
    await deletePrefix(p);
  });

  it('collapses repeated enqueues with one key into the pending job, and enqueues again once it is done', async () => {
    const first = await client.enqueue('sleepy', { ms: 500, id: 'digest-1' }, { deduplicate: { key: 'digest-alice' } });
    const again = await Promise.all(Array.from({ length: 5 }, (_, i) => client.enqueue('sleepy', { ms: 500, id: `digest-${i + 2}` }, { deduplicate: { key: 'digest-alice' } })));
    expect(new Set(again.map((handle) => handle.id))).toEqual(new Set([first.id]));
    const other = await client.enqueue('sleepy', { ms: 1, id: 'digest-bob' }, { deduplicate: { key: 'digest-bob' } });
    expect(other.id).not.toBe(first.id);
    expect(await first.waitResult({ timeoutMs: 30_000 })).toMatchObject({ id: 'digest-1' });
    const later = await client.enqueue('sleepy', { ms: 1, id: 'digest-later' }, { deduplicate: { key: 'digest-alice' } });
    expect(later.id).not.toBe(first.id);
    expect(await later.waitResult({ timeoutMs: 30_000 })).toMatchObject({ id: 'digest-later' });
    // Its lines reach this process in batches: wait for the last one.
    await worker.waitForLog((line) => line.msg === 'sleepy started' && line.sleepyId === 'digest-later', 'the last run to be logged');
    expect(worker.lines.filter((line) => line.msg === 'sleepy started' && String(line.sleepyId).startsWith('digest-')).map((line) => String(line.sleepyId)).sort((a, b) => a.localeCompare(b))).toEqual(
      ['digest-1', 'digest-bob', 'digest-later'],
    );
  });

  it('with a window, collapses within it even after the first job finished', async () => {
    const first = await client.enqueue('echo', { value: 1 }, { deduplicate: { key: 'window', windowMs: 60_000 } });
    await first.waitResult({ timeoutMs: 30_000 });
    const again = await client.enqueue('echo', { value: 2 }, { deduplicate: { key: 'window', windowMs: 60_000 } });
    expect(again.id).toBe(first.id);
    await expect(client.enqueue('echo', { value: 3 }, { deduplicate: { key: '' } })).rejects.toThrow('deduplicate.key');
  });

  it('cancels a running job: its signal aborts on the worker process, and waitResult rejects with TaskCancelledError', async () => {
    const handle = await client.enqueue('sleepy', { ms: 60_000, id: 'to-cancel' });
    const result = handle.waitResult({ timeoutMs: 30_000 });
    await worker.waitForLog((line) => line.msg === 'sleepy started' && line.sleepyId === 'to-cancel', 'the job to start');
    expect(await handle.cancel()).toBe('signalled');
    const error = await rejectionOf(result);
    expect(error).toBeInstanceOf(TaskCancelledError);
    expect(error.message).toBe(`Task "sleepy" (job ${handle.id}) was cancelled`);
    await worker.waitForLog((line) => String(line.msg).startsWith('Task sleepy cancelled after'), 'the worker to say it cancelled the run');
    expect(await client.getJob(handle.id)).toMatchObject({ state: 'failed', attemptsMade: 1 });
    // A waiter that comes later learns it too; cancelling again is too late.
    expect(await rejectionOf(handle.waitResult())).toBeInstanceOf(TaskCancelledError);
    expect(await handle.cancel()).toBe('finished');
  });

  it('cancels a job that has not started: it is removed, and its waiters reject with TaskCancelledError', async () => {
    const handle = await client.enqueue('echo', { value: 1 }, { delayMs: 600_000 });
    const result = handle.waitResult({ timeoutMs: 30_000 });
    expect(await client.cancel(handle.id)).toBe('removed');
    expect(await rejectionOf(result)).toBeInstanceOf(TaskCancelledError);
    expect(await client.getJob(handle.id)).toBeUndefined();
    expect(await rejectionOf(handle.waitResult())).toBeInstanceOf(TaskCancelledError);
  });

  it('delivers the progress the handler reports on the other process to the waiter', async () => {
    const handle = await client.enqueue('progresses', { steps: 4 });
    const seen: unknown[] = [];
    handle.onProgress((progress) => seen.push(progress));
    await handle.waitResult({ timeoutMs: 30_000 });
    // Reported before the result: all four events came before completion, in order.
    expect(seen).toEqual([25, 50, 75, 100]);
  });
});
