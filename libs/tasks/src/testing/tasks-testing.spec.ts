import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Injectable, Module, type CallHandler, type ExecutionContext, type NestInterceptor, UseInterceptors } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { map, type Observable } from 'rxjs';
import { Task } from '../task/task.decorator.js';
import type { TaskContext } from '../task/task-context.interface.js';
import { TaskClient } from '../client/task-client.js';
import {
  InvalidEnqueueOptionError,
  InvalidPayloadError,
  JobIdConflictError,
  NonRetriableError,
  TaskCancelledError,
  TaskFailedError,
  TaskNotFoundError,
  TaskWaitAbortedError,
  TaskWaitTimeoutError,
  TasksError,
  UnknownTaskError,
} from '../errors/tasks.errors.js';
import { TasksEvents } from '../events/tasks-events.js';
import { TasksMetrics } from '../observability/tasks-metrics.js';
import { TasksTestingModule } from './tasks-testing.module.js';
import { TasksExpectationError, TasksTesting } from './tasks-testing.js';
import { TestingTaskClient } from './testing-task-client.js';
import type { TasksTestingModuleOptions } from './testing-options.js';

/** A dependency of the tasks, from the Nest container. */
@Injectable()
class Uploads {
  readonly processed: string[] = [];
  failuresLeft = new Map<string, number>();
  /** Called when waitForCancel starts. */
  onStart?: () => void;
}

@Injectable()
class UploadTasks {
  constructor(
    private readonly uploads: Uploads,
    private readonly client: TaskClient,
  ) {}

  @Task({ attempts: 3, backoff: { type: 'exponential', delayMs: 1_000 } })
  async processUpload(payload: { uploadId: string; userId?: string }, ctx: TaskContext): Promise<{ processed: string; attempt: number }> {
    const left = this.uploads.failuresLeft.get(payload.uploadId) ?? 0;
    if (left > 0) {
      this.uploads.failuresLeft.set(payload.uploadId, left - 1);
      throw new Error(`upload ${payload.uploadId} is not there yet`);
    }
    this.uploads.processed.push(payload.uploadId);
    await ctx.updateProgress(100);
    return { processed: payload.uploadId, attempt: ctx.attempt };
  }

  @Task({ name: 'uploads.report', queue: 'reports' })
  async buildReport(payload: { uploadIds: string[] }): Promise<number> {
    for (const uploadId of payload.uploadIds) await this.client.enqueue(UploadTasks, 'processUpload', { uploadId });
    return payload.uploadIds.length;
  }

  @Task({ attempts: 5 })
  async rejectBadInput(payload: { value: number }): Promise<void> {
    throw new NonRetriableError(`value ${payload.value} is out of range`);
  }

  @Task({ attempts: 2, timeoutMs: 50 })
  async slow(_payload: { ms: number }, ctx: TaskContext): Promise<string> {
    await sleep(60_000, undefined, { signal: ctx.signal });
    return 'never';
  }

  @Task({ attempts: 3 })
  async waitForCancel(_payload: Record<string, never>, ctx: TaskContext): Promise<string> {
    this.uploads.onStart?.();
    await new Promise((_, reject) => {
      ctx.signal.throwIfAborted();
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
    });
    return 'never';
  }

  @Task()
  async returnsADate(): Promise<{ at: Date }> {
    return { at: new Date(0) };
  }

  @Task()
  async huge(): Promise<string> {
    return 'x'.repeat(2_000);
  }

  @Task()
  async forever(payload: { n: number }): Promise<void> {
    await this.client.enqueue(UploadTasks, 'forever', { n: payload.n + 1 });
  }

  @Task()
  async echoContext(_payload: Record<string, never>, ctx: TaskContext): Promise<{ jobId: string; taskName: string; attempt: number; maxAttempts: number; enqueuedAt: string; aborted: boolean }> {
    return { jobId: ctx.jobId, taskName: ctx.taskName, attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, enqueuedAt: ctx.enqueuedAt.toISOString(), aborted: ctx.signal.aborted };
  }
}

/** Doubles a task's numeric result: the app's interceptors run around the handlers, as in production. */
@Injectable()
class DoubleInterceptor implements NestInterceptor {
  seen: string[] = [];
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.seen.push(context.getType());
    return next.handle().pipe(map((value: unknown) => (typeof value === 'number' ? value * 2 : value)));
  }
}

@Injectable()
@UseInterceptors(DoubleInterceptor)
class CountingTasks {
  @Task()
  async count(payload: { items: number[] }): Promise<number> {
    return payload.items.length;
  }
}

@Module({ providers: [Uploads, UploadTasks, DoubleInterceptor, CountingTasks] })
class UploadsModule {}

const START = Date.UTC(2030, 0, 1, 12);

async function boot(options: TasksTestingModuleOptions = {}): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [TasksTestingModule.forRoot({ now: START, ...options }), UploadsModule],
  }).compile();
  return moduleRef.init();
}

describe('TasksTestingModule, manual mode', () => {
  let app: TestingModule;
  let client: TaskClient;
  let tasks: TasksTesting;
  let uploads: Uploads;

  beforeEach(async () => {
    app = await boot();
    client = app.get(TaskClient);
    tasks = app.get(TasksTesting);
    uploads = app.get(Uploads);
  });

  afterEach(async () => {
    await app.close();
  });

  it('gives the code under test the kit’s TaskClient, and runs nothing until the test says so', async () => {
    expect(client).toBeInstanceOf(TestingTaskClient);
    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    expect(handle.id).toBe('1');
    expect(uploads.processed).toEqual([]);
    expect(tasks.enqueued()).toHaveLength(1);
    expect(tasks.enqueued()[0]).toMatchObject({ id: '1', name: 'processUpload', queue: 'default', state: 'waiting', payload: { uploadId: 'a' }, attemptsMade: 0 });
    expect(await client.getJob(handle.id)).toMatchObject({ id: '1', name: 'processUpload', state: 'waiting', attemptsMade: 0, enqueuedAt: new Date(START) });
  });

  it('expectEnqueued matches payloads partially and deeply, and counts', async () => {
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a', userId: 'u1' });
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'b', userId: 'u1' });
    await client.enqueue('uploads.report', { uploadIds: ['a', 'b'] });

    const job = tasks.expectEnqueued(UploadTasks, 'processUpload', { uploadId: 'a' });
    expect(job.payload).toEqual({ uploadId: 'a', userId: 'u1' });
    tasks.expectEnqueued(UploadTasks, 'processUpload', { userId: 'u1' }, { count: 2 });
    tasks.expectEnqueued(UploadTasks, 'processUpload', { uploadId: expect.stringMatching(/^[ab]$/) as string }, { count: 2 });
    tasks.expectEnqueued(UploadTasks, 'buildReport', { uploadIds: ['a', 'b'] });
    tasks.expectEnqueued('uploads.report');
    expect(tasks.enqueued(UploadTasks, 'processUpload', { uploadId: 'b' }).map((j) => j.id)).toEqual(['2']);
    // An array matches only an array as long.
    tasks.expectNotEnqueued(UploadTasks, 'buildReport', { uploadIds: ['a'] });
    tasks.expectNotEnqueued(UploadTasks, 'processUpload', { uploadId: 'c' });
    tasks.expectNotEnqueued(UploadTasks, 'rejectBadInput');
  });

  it('fails an expectation with a message that lists what was enqueued', async () => {
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'b' });
    expect(() => tasks.expectEnqueued(UploadTasks, 'processUpload', { uploadId: 'a' })).toThrow(TasksExpectationError);
    expect(() => tasks.expectEnqueued(UploadTasks, 'processUpload', { uploadId: 'a' })).toThrow(
      'Expected a job of task "processUpload" matching {"uploadId":"a"} to be enqueued, but none was. Enqueued:\n  - processUpload {"uploadId":"b"} (job 1, waiting)',
    );
    expect(() => tasks.expectEnqueued(UploadTasks, 'processUpload', undefined, { count: 2 })).toThrow('Expected 2 job(s) of task "processUpload" to be enqueued, found 1.');
    expect(() => tasks.expectNotEnqueued(UploadTasks, 'processUpload')).toThrow('Expected no job of task "processUpload" to be enqueued, found 1.');
    expect(() => tasks.expectEnqueued('processUplaod')).toThrow('no task "processUplaod" is registered in this testing module');
    expect(() => tasks.expectNotEnqueued(UploadTasks, 'notATask' as never)).toThrow(TasksError);
    await tasks.reset();
    expect(() => tasks.expectEnqueued(UploadTasks, 'processUpload')).toThrow('Nothing was enqueued.');
  });

  it('runs one attempt with runNext, through the production runner, with the task’s dependencies', async () => {
    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    const progress: unknown[] = [];
    handle.onProgress((p) => progress.push(p));
    const outcome = await tasks.runNext();
    expect(outcome).toMatchObject({ status: 'completed', attempt: 1, maxAttempts: 3, result: { processed: 'a', attempt: 1 } });
    expect(uploads.processed).toEqual(['a']);
    await expect(handle.waitResult()).resolves.toEqual({ processed: 'a', attempt: 1 });
    expect(progress).toEqual([100]);
    expect(await client.getJob(handle.id)).toMatchObject({ state: 'completed', attemptsMade: 1, progress: 100, result: { processed: 'a', attempt: 1 }, finishedAt: new Date(START) });
    expect(await tasks.runNext()).toBeUndefined();
  });

  it('gives the handler a production TaskContext', async () => {
    const handle = await client.enqueue(UploadTasks, 'echoContext', {}, { jobId: 'ctx-1' });
    await tasks.drain();
    await expect(handle.waitResult()).resolves.toEqual({
      jobId: 'ctx-1',
      taskName: 'echoContext',
      attempt: 1,
      maxAttempts: 3,
      enqueuedAt: new Date(START).toISOString(),
      aborted: false,
    });
  });

  it('hands the payload and the result over as JSON, as Redis does', async () => {
    const payload = { uploadId: 'a', userId: undefined };
    const handle = await client.enqueue(UploadTasks, 'processUpload', payload);
    expect(tasks.enqueued()[0]?.payload).toEqual({ uploadId: 'a' });
    expect(tasks.enqueued()[0]?.payload).not.toBe(payload);
    await tasks.drain();
    await handle.waitResult();
    const dated = await client.enqueue(UploadTasks, 'returnsADate', {});
    await tasks.drain();
    await expect(dated.waitResult()).resolves.toEqual({ at: '1970-01-01T00:00:00.000Z' });
  });

  it('retries a failed attempt by the task’s settings, at once, reporting the backoff production would wait', async () => {
    uploads.failuresLeft.set('a', 2);
    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    const outcomes = await tasks.drain();
    expect(outcomes.map(({ status, attempt, retryDelayMs, error }) => ({ status, attempt, retryDelayMs, error }))).toEqual([
      { status: 'retrying', attempt: 1, retryDelayMs: 1_000, error: 'upload a is not there yet' },
      { status: 'retrying', attempt: 2, retryDelayMs: 2_000, error: 'upload a is not there yet' },
      { status: 'completed', attempt: 3, retryDelayMs: undefined, error: undefined },
    ]);
    await expect(handle.waitResult()).resolves.toEqual({ processed: 'a', attempt: 3 });
    expect(await client.getJob(handle.id)).toMatchObject({ state: 'completed', attemptsMade: 3 });
  });

  it('fails a job for good after its last attempt: waitResult rejects with TaskFailedError', async () => {
    uploads.failuresLeft.set('a', 5);
    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    const outcomes = await tasks.drain();
    expect(outcomes.map((o) => o.status)).toEqual(['retrying', 'retrying', 'failed']);
    const error = await handle.waitResult().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error).not.toBeInstanceOf(TaskCancelledError);
    expect(error).toMatchObject({ taskName: 'processUpload', jobId: '1', attemptsMade: 3, message: 'Task "processUpload" (job 1) failed after 3 attempt(s): upload a is not there yet' });
    expect((error as TaskFailedError).remoteStack).toContain('upload a is not there yet');
    expect(await client.getJob(handle.id)).toMatchObject({ state: 'failed', attemptsMade: 3, error: 'upload a is not there yet' });
  });

  it('ends a job at the first NonRetriableError, and honours EnqueueOptions.attempts', async () => {
    const handle = await client.enqueue(UploadTasks, 'rejectBadInput', { value: 7 });
    expect(await tasks.drain()).toEqual([expect.objectContaining({ status: 'failed', attempt: 1, maxAttempts: 5, error: 'value 7 is out of range' })]);
    await expect(handle.waitResult()).rejects.toMatchObject({ attemptsMade: 1 });

    uploads.failuresLeft.set('b', 5);
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'b' }, { attempts: 2 });
    expect((await tasks.drain()).map((o) => `${o.status} ${o.attempt}/${o.maxAttempts}`)).toEqual(['retrying 1/2', 'failed 2/2']);
  });

  it('times an attempt out by the task’s timeoutMs, aborting ctx.signal, and leaves no timer behind', async () => {
    const handle = await client.enqueue(UploadTasks, 'slow', { ms: 1 });
    const outcomes = await tasks.drain();
    expect(outcomes.map((o) => o.status)).toEqual(['retrying', 'failed']);
    expect(outcomes[1]?.error).toBe('Task "slow" exceeded its timeout of 50 ms (set with @Task({ timeoutMs })).');
    await expect(handle.waitResult()).rejects.toBeInstanceOf(TaskFailedError);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout')).toHaveLength(0);
  });

  it('fails a result production cannot store, without retries', async () => {
    await app.close();
    app = await boot({ options: { maxResultBytes: 1_000 } });
    const handle = await app.get(TaskClient).enqueue(UploadTasks, 'huge', {});
    const [outcome] = await app.get(TasksTesting).drain();
    expect(outcome).toMatchObject({ status: 'failed', attempt: 1 });
    await expect(handle.waitResult()).rejects.toThrow(/result/);
  });

  it('cancels a waiting job: removed, and waitResult rejects with TaskCancelledError', async () => {
    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    const waiting = handle.waitResult();
    expect(await handle.cancel()).toBe('removed');
    await expect(waiting).rejects.toBeInstanceOf(TaskCancelledError);
    await expect(handle.waitResult()).rejects.toThrow('Task "processUpload" (job 1) was cancelled');
    expect(await client.getJob(handle.id)).toBeUndefined();
    expect(await tasks.drain()).toEqual([]);
    expect(uploads.processed).toEqual([]);
    expect(await handle.cancel()).toBe('finished');
    expect(await client.cancel('no-such-job')).toBe('finished');
  });

  it('cancels a running job: its signal aborts and it fails without retries', async () => {
    const handle = await client.enqueue(UploadTasks, 'waitForCancel', {});
    const started = new Promise<void>((resolve) => (uploads.onStart = resolve));
    const running = tasks.runNext();
    await started;
    expect(tasks.enqueued()[0]?.state).toBe('active');
    expect(await client.cancel(handle.id)).toBe('signalled');
    expect(await running).toMatchObject({ status: 'cancelled', attempt: 1, maxAttempts: 3 });
    const error = await handle.waitResult().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskCancelledError);
    expect(error).toMatchObject({ attemptsMade: 1 });
    expect(await tasks.drain()).toEqual([]);
  });

  it('deduplicates by key while the first job waits or runs, and for windowMs after it was added', async () => {
    const first = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' }, { deduplicate: { key: 'upload-a' } });
    const second = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a2' }, { deduplicate: { key: 'upload-a' } });
    expect(second.id).toBe(first.id);
    // Keys are per task.
    const other = await client.enqueue(UploadTasks, 'echoContext', {}, { deduplicate: { key: 'upload-a' } });
    expect(other.id).not.toBe(first.id);
    await tasks.drain();
    // Finished, without a window: the key is free again.
    const third = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a3' }, { deduplicate: { key: 'upload-a' } });
    expect(third.id).not.toBe(first.id);

    const windowed = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'w' }, { deduplicate: { key: 'w', windowMs: 10_000 } });
    await tasks.drain();
    const again = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'w2' }, { deduplicate: { key: 'w', windowMs: 10_000 } });
    expect(again.id).toBe(windowed.id);
    expect(tasks.enqueued(UploadTasks, 'processUpload', { uploadId: 'w2' })).toEqual([]);
  });

  it('gives a jobId’s job back while it exists, and refuses one that names another task’s job', async () => {
    const first = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' }, { jobId: 'upload-a' });
    const again = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'other' }, { jobId: 'upload-a' });
    expect(again.id).toBe('upload-a');
    expect(first.id).toBe('upload-a');
    expect(tasks.enqueued()).toHaveLength(1);
    await expect(client.enqueue(UploadTasks, 'echoContext', {}, { jobId: 'upload-a' })).rejects.toBeInstanceOf(JobIdConflictError);
    await expect(client.enqueue(UploadTasks, 'echoContext', {}, { jobId: 'upload-a' })).rejects.toThrow('jobId "upload-a" names a job of task "processUpload" on queue default');
    // Another queue has ids of its own.
    const report = await client.enqueue(UploadTasks, 'buildReport', { uploadIds: [] }, { jobId: 'upload-a' });
    expect(report.id).toBe('reports:upload-a');
  });

  it('refuses what production refuses, adding nothing', async () => {
    await expect(client.enqueue('processUplaod', { uploadId: 'a' })).rejects.toBeInstanceOf(UnknownTaskError);
    await expect(client.enqueue(UploadTasks, 'processUpload', { uploadId: 1n } as never)).rejects.toBeInstanceOf(InvalidPayloadError);
    await expect(client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' }, { delayMs: -1 })).rejects.toBeInstanceOf(InvalidEnqueueOptionError);
    await expect(client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' }, { jobId: 'a:b' })).rejects.toThrow('must not contain ":"');
    await expect(client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' }, { queue: 'reports' })).rejects.toThrow(/the task's own queue "default"/);
    await expect(client.enqueue(UploadTasks, 'notATask' as never, {} as never)).rejects.toThrow('UploadTasks.notATask is not a task');
    await expect(
      client.enqueueMany([
        { name: 'processUpload', payload: { uploadId: 'a' }, options: { jobId: 'same' } },
        { name: 'echoContext', payload: {}, options: { jobId: 'same' } },
      ]),
    ).rejects.toBeInstanceOf(JobIdConflictError);
    expect(tasks.enqueued()).toEqual([]);
  });

  it('checks payload size by the module options', async () => {
    await app.close();
    app = await boot({ options: { maxPayloadBytes: 100 } });
    await expect(app.get(TaskClient).enqueue(UploadTasks, 'processUpload', { uploadId: 'x'.repeat(200) })).rejects.toThrow(/over the limit of 100/);
  });

  it('enqueueMany adds every item in order and returns their handles', async () => {
    const handles = await client.enqueueMany([
      { name: 'processUpload', payload: { uploadId: 'a' } },
      { name: 'uploads.report', payload: { uploadIds: ['a'] } },
      { name: 'processUpload', payload: { uploadId: 'b' } },
    ]);
    expect(handles.map((h) => h.id)).toEqual(['1', 'reports:1', '2']);
    await tasks.drain({ recursive: false });
    await expect(handles[1]?.waitResult()).resolves.toBe(1);
  });

  it('runs waiting jobs first in, first out, then prioritized ones by priority', async () => {
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'p5' }, { priority: 5 });
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'p1' }, { priority: 1 });
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'w1' });
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'p1b' }, { priority: 1 });
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'w2' });
    await tasks.drain();
    expect(uploads.processed).toEqual(['w1', 'w2', 'p1', 'p1b', 'p5']);
  });

  it('keeps delayed jobs until drain({ includeDelayed }), soonest first', async () => {
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'later' }, { delayMs: 60_000 });
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'sooner' }, { delayMs: 1_000 });
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'now' });
    expect(tasks.enqueued().map((j) => [j.state, j.runAt.getTime() - START])).toEqual([
      ['delayed', 60_000],
      ['delayed', 1_000],
      ['waiting', 0],
    ]);
    expect(await tasks.drain()).toHaveLength(1);
    expect(uploads.processed).toEqual(['now']);
    expect(await tasks.runNext()).toBeUndefined();
    expect(await tasks.runNext({ includeDelayed: true })).toMatchObject({ status: 'completed' });
    await tasks.drain({ includeDelayed: true });
    expect(uploads.processed).toEqual(['now', 'sooner', 'later']);
  });

  it('drains the jobs handlers enqueue, unless recursive: false', async () => {
    await client.enqueue(UploadTasks, 'buildReport', { uploadIds: ['a', 'b'] });
    expect(await tasks.drain({ recursive: false })).toHaveLength(1);
    tasks.expectEnqueued(UploadTasks, 'processUpload', undefined, { count: 2 });
    expect(uploads.processed).toEqual([]);
    expect(await tasks.drain()).toHaveLength(2);
    expect(uploads.processed).toEqual(['a', 'b']);
  });

  it('stops a drain that never ends, naming the task', async () => {
    await client.enqueue(UploadTasks, 'forever', { n: 0 });
    await expect(tasks.drain({ maxRuns: 50 })).rejects.toThrow('drain() ran 50 attempts and a job of "forever" is still due');
    // The job it stopped at is still there to run.
    expect(await tasks.runNext()).toMatchObject({ status: 'completed' });
  });

  it('runs the app’s interceptors around handlers', async () => {
    const handle = await client.enqueue(CountingTasks, 'count', { items: [1, 2, 3] });
    await tasks.drain();
    await expect(handle.waitResult()).resolves.toBe(6);
    expect(app.get(DoubleInterceptor).seen).toEqual(['task']);
  });

  it('times a wait out with TaskWaitTimeoutError, leaving the job as it is', async () => {
    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    await expect(handle.waitResult({ timeoutMs: 20 })).rejects.toBeInstanceOf(TaskWaitTimeoutError);
    expect(tasks.enqueued()[0]?.state).toBe('waiting');
  });

  it('tells a waiter of a job reset() dropped that it is gone', async () => {
    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    const waiting = handle.waitResult();
    await tasks.reset();
    await expect(waiting).rejects.toBeInstanceOf(TaskNotFoundError);
    expect(tasks.enqueued()).toEqual([]);
    expect((await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'b' })).id).toBe('1');
  });

  it('rejects waiters with TaskWaitAbortedError when the app closes', async () => {
    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    const waiting = handle.waitResult({ timeoutMs: 60_000 });
    await app.close();
    await expect(waiting).rejects.toBeInstanceOf(TaskWaitAbortedError);
    await expect(handle.waitResult()).rejects.toBeInstanceOf(TaskWaitAbortedError);
    app = await boot();
  });

  it('fails a job of a task this app does not run, as a worker does', async () => {
    await app.close();
    app = await boot({ options: { allowUnregisteredTasks: true } });
    const handle = await app.get(TaskClient).enqueue('mail.send', { to: 'a' });
    const [outcome] = await app.get(TasksTesting).drain();
    expect(outcome).toMatchObject({ status: 'failed', attempt: 1 });
    expect(outcome?.error).toContain('No handler for task "mail.send"');
    await expect(handle.waitResult()).rejects.toBeInstanceOf(TaskFailedError);
  });

  it('tells TasksEvents listeners of the kit’s jobs as production tells them', async () => {
    const events = app.get(TasksEvents);
    const seen: string[] = [];
    events.on('task.enqueued', (e) => seen.push(`enqueued ${e.task} ${e.queue} ${e.jobId}`));
    events.on('task.started', (e) => seen.push(`started ${e.jobId} ${e.attempt}/${e.maxAttempts}`));
    events.on('task.retried', (e) => seen.push(`retried ${e.jobId} ${e.attempt} ${e.errorType}`));
    events.on('task.finished', (e) => seen.push(`finished ${e.jobId} ${e.attempt} ${e.status}${e.status === 'failed' ? ` ${e.reason}` : ''}`));
    uploads.failuresLeft.set('a', 1);
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
    await client.enqueue(UploadTasks, 'rejectBadInput', { value: 1 });
    await tasks.drain();
    expect(seen).toEqual([
      'enqueued processUpload tasks.default 1',
      'enqueued rejectBadInput tasks.default 2',
      'started 1 1/3',
      'retried 1 1 Error',
      'started 2 1/5',
      'finished 2 1 failed not-retriable',
      'started 1 2/3',
      'finished 1 2 completed',
    ]);
  });

  it('provides TasksMetrics off, even with metrics: true: no queue to read, nothing of a deployment to count', async () => {
    const metered = await boot({ options: { metrics: true } });
    try {
      const metrics = metered.get(TasksMetrics);
      await metered.get(TaskClient).enqueue(UploadTasks, 'processUpload', { uploadId: 'm' });
      await metered.get(TasksTesting).drain();
      expect(metrics.enabled).toBe(false);
      expect(await metrics.metrics()).toBe('');
    } finally {
      await metered.close();
    }
  });

  it('knows the tasks of the app', () => {
    expect(client.knownTasks()).toEqual(['count', 'echoContext', 'forever', 'huge', 'processUpload', 'rejectBadInput', 'returnsADate', 'slow', 'uploads.report', 'waitForCancel']);
  });
});
