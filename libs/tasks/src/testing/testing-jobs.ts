import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { clearTimeout, setTimeout } from 'node:timers';
import type { JobsOptions } from 'bullmq';
import type { EnqueueOptions, TaskJobInfo } from '../client/task-client.types.js';
import { TaskNotFoundError, TaskWaitAbortedError, TaskWaitTimeoutError } from '../errors/tasks.errors.js';
import { jobVanished, waitAborted, waitTimedOut } from '../errors/tasks.messages.js';
import { bullQueueName } from '../options/task-queue-names.js';
import { cancelled, failure } from '../queues/job-outcome.listener.js';
import { publicJobId } from '../task/job-ids.js';
import { TasksClock } from '../options/tasks-clock.js';

/** Where a job of the kit is: BullMQ's states, and `cancelled` for one `cancel()` removed before it ran. */
export type TestingJobState = 'waiting' | 'prioritized' | 'delayed' | 'active' | 'completed' | 'failed' | 'cancelled';

/** A job the code under test enqueued, as the kit shows it. Its fields follow the job as it runs. */
export interface EnqueuedJob<P = unknown, R = unknown> {
  /** The public job id, as `TaskHandle.id` and `TaskClient.getJob()` have it. */
  readonly id: string;
  /** The task's name. */
  readonly name: string;
  /** The task queue. */
  readonly queue: string;
  /** The payload as the handler gets it: after a JSON round trip, as in production. */
  readonly payload: P;
  /** The options `enqueue` was given. */
  readonly options: Readonly<EnqueueOptions>;
  readonly state: TestingJobState;
  /** Runs that ended: failed attempts, or the one that completed. */
  readonly attemptsMade: number;
  /** The last progress the handler reported (0 before any). */
  readonly progress: number | object;
  /** The handler's result, once it completed (after a JSON round trip: `undefined` is `null`). */
  readonly result: R | undefined;
  /** Why the last attempt failed, as production records it. */
  readonly error: string | undefined;
  readonly enqueuedAt: Date;
  /** When it is due: the enqueue time plus its `delayMs`. */
  readonly runAt: Date;
}

/** A `waitResult()` call still waiting. */
interface Waiter {
  readonly taskName: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * One job, in the shape the production TaskRunner reads of a BullMQ job
 * (`id`, `name`, `data`, `queueName`, `timestamp`, `opts`, `attemptsMade`,
 * `failedReason`, `updateProgress`), so the runner runs it unchanged.
 */
export class TestingJob {
  /** BullMQ's `attemptsMade`: runs that ended. */
  attemptsMade = 0;
  /** BullMQ's `attemptsStarted`. */
  attemptsStarted = 0;
  /** The reason of the last failed attempt; unset (undefined, as BullMQ's) until one fails. */
  failedReason: string;
  readonly stacktrace: string[] = [];
  returnvalue: unknown = null;
  progress: number | object = 0;
  finishedOn: number | undefined;
  state: TestingJobState = 'waiting';
  /** Its place in its list: a job listed again gets a new one, which makes its old entries stale. */
  seq = 0;
  dueAt: number;
  /** Set when `reset()` dropped it: a later waiter learns it is gone. */
  dropped = false;
  readonly waiters = new Set<Waiter>();
  readonly progressListeners = new Set<(progress: number | object) => void>();
  readonly view: EnqueuedJob;

  constructor(
    /** BullMQ's job id (a chosen id is stored with its prefix). */
    readonly id: string,
    readonly name: string,
    readonly data: unknown,
    /** The task queue. */
    readonly queue: string,
    /** The BullMQ queue's name, `tasks.<queue>`. */
    readonly queueName: string,
    readonly opts: JobsOptions,
    readonly options: Readonly<EnqueueOptions>,
    readonly timestamp: number,
    private readonly reportProgress: (job: TestingJob, progress: number | object) => void,
  ) {
    this.dueAt = timestamp + (opts.delay ?? 0);
    this.view = new JobView(this);
  }

  get publicId(): string {
    return publicJobId(this.id, this.queueName);
  }

  get finished(): boolean {
    return this.state === 'completed' || this.state === 'failed' || this.state === 'cancelled';
  }

  /** `ctx.updateProgress()`: stored as JSON, as BullMQ stores it. */
  async updateProgress(progress: number | object): Promise<void> {
    this.reportProgress(this, progress);
  }
}

class JobView implements EnqueuedJob {
  constructor(private readonly job: TestingJob) {}

  get id(): string {
    return this.job.publicId;
  }
  get name(): string {
    return this.job.name;
  }
  get queue(): string {
    return this.job.queue;
  }
  get payload(): unknown {
    return this.job.data;
  }
  get options(): Readonly<EnqueueOptions> {
    return this.job.options;
  }
  get state(): TestingJobState {
    return this.job.state;
  }
  get attemptsMade(): number {
    return this.job.attemptsMade;
  }
  get progress(): number | object {
    return this.job.progress;
  }
  get result(): unknown {
    return this.job.state === 'completed' ? this.job.returnvalue : undefined;
  }
  get error(): string | undefined {
    return this.job.failedReason;
  }
  get enqueuedAt(): Date {
    return new Date(this.job.timestamp);
  }
  get runAt(): Date {
    return new Date(this.job.dueAt);
  }
  /** What a test runner prints: the fields, not the job behind them. */
  toJSON(): Record<string, unknown> {
    const { id, name, queue, payload, options, state, attemptsMade, progress, result, error, enqueuedAt, runAt } = this;
    return { id, name, queue, payload, options, state, attemptsMade, progress, result, error, enqueuedAt, runAt };
  }
}

/** An entry of one of the lists; stale once its job left that list or was listed again. */
interface Entry {
  readonly job: TestingJob;
  readonly seq: number;
  readonly state: 'waiting' | 'prioritized' | 'delayed';
}

/** What `takeNext` may take. */
export interface TakeOptions {
  /** Also a delayed job that is not due yet, once no job is due. */
  includeDelayed?: boolean;
  /** Only these jobs. */
  among?: ReadonlySet<TestingJob>;
}

const key = (bullQueue: string, id: string) => `${bullQueue}\0${id}`;

/** A JSON copy: what a value is after Redis, for the payload, the result and the progress. */
export function jsonCopy<T>(value: T): T {
  return value === undefined ? (null as T) : (JSON.parse(JSON.stringify(value)) as T);
}

/**
 * The kit's queues, in memory: the jobs of every task queue in the order
 * BullMQ runs them (waiting jobs first in, first out, then prioritized ones
 * by priority, delayed ones once due), generated and chosen job ids,
 * deduplication keys and their windows, progress and the `waitResult()`
 * callers.
 */
@Injectable()
export class TestingJobs implements OnApplicationShutdown {
  private jobs: TestingJob[] = [];
  private byId = new Map<string, TestingJob>();
  private dedup = new Map<string, { job: TestingJob; expiresAt: number | undefined }>();
  private generated = new Map<string, number>();
  private waiting: Entry[] = [];
  private waitingHead = 0;
  private prioritized: Entry[] = [];
  private delayed: Entry[] = [];
  private seq = 0;
  private closed = false;

  /** @internal Built by Nest's injector. */
  constructor(private readonly clock: TasksClock) {}

  now(): number {
    return this.clock.now();
  }

  /**
   * Adds a job as BullMQ's add does: a job id that names a job still there
   * gives that job back (whichever its task: the caller refuses another
   * task's), and so does a deduplication key still held; `added` says
   * whether the job is new.
   */
  add(name: string, payload: unknown, queue: string, opts: JobsOptions, options: EnqueueOptions): { job: TestingJob; added: boolean } {
    const bullQueue = bullQueueName(queue);
    if (opts.jobId !== undefined) {
      const existing = this.byId.get(key(bullQueue, opts.jobId));
      if (existing && existing.state !== 'cancelled') return { job: existing, added: false };
    }
    const now = this.now();
    const dedupKey = opts.deduplication ? key(bullQueue, opts.deduplication.id) : undefined;
    const held = dedupKey === undefined ? undefined : this.dedup.get(dedupKey);
    if (held && (held.expiresAt === undefined || now < held.expiresAt) && held.job.state !== 'cancelled') return { job: held.job, added: false };
    const id = opts.jobId ?? String(this.nextId(bullQueue));
    const job = new TestingJob(id, name, jsonCopy(payload), queue, bullQueue, opts, { ...options }, now, (j, p) => this.progress(j, p));
    this.jobs.push(job);
    this.byId.set(key(bullQueue, id), job);
    if (dedupKey !== undefined) {
      const ttl = opts.deduplication?.ttl;
      this.dedup.set(dedupKey, { job, expiresAt: ttl === undefined ? undefined : now + ttl });
    }
    if (job.dueAt > now) this.list(job, 'delayed');
    else this.ready(job);
    return { job, added: true };
  }

  /** Every job enqueued since the start or the last `reset()`, in enqueue order. */
  all(): readonly TestingJob[] {
    return this.jobs;
  }

  /** The job of a BullMQ queue and id, while the kit has it. */
  find(bullQueue: string, storedId: string): TestingJob | undefined {
    return this.byId.get(key(bullQueue, storedId));
  }

  /**
   * Takes the next job to run and marks it active: a due delayed job is
   * promoted first; then the oldest waiting job, then prioritized ones
   * (lowest number first); then, with `includeDelayed`, the delayed job due
   * soonest. Undefined when none is left.
   */
  takeNext({ includeDelayed = false, among }: TakeOptions = {}): TestingJob | undefined {
    this.promoteDue();
    const accept = (entry: Entry) => this.isCurrent(entry) && (!among || among.has(entry.job));
    const found = this.firstWaiting(accept) ?? this.first(this.prioritized, accept) ?? (includeDelayed ? this.first(this.delayed, accept) : undefined);
    if (found) this.activate(found);
    return found;
  }

  /** Marks a job that is waiting (or prioritized) active, for a run that does not go through `takeNext`. */
  take(job: TestingJob): boolean {
    if (job.state !== 'waiting' && job.state !== 'prioritized') return false;
    this.activate(job);
    return true;
  }

  /** Whether `job` would run now: waiting, prioritized, or delayed and due. */
  isDue(job: TestingJob): boolean {
    if (job.state === 'delayed' && job.dueAt <= this.now()) this.promoteDue();
    return job.state === 'waiting' || job.state === 'prioritized';
  }

  /** Puts an active job back in line (a retry, instantly: the backoff is not waited for; or a run handed back). */
  requeue(job: TestingJob): void {
    this.ready(job);
  }

  complete(job: TestingJob, result: unknown): void {
    job.returnvalue = jsonCopy(result);
    job.attemptsMade += 1;
    this.finish(job, 'completed');
    // Each settle removes its waiter: deleting the entry being visited is safe while iterating a Set.
    for (const waiter of job.waiters) waiter.resolve(job.returnvalue);
  }

  /** A failed attempt: recorded as BullMQ records it. The caller decides whether it was the last. */
  recordFailure(job: TestingJob, error: unknown): void {
    job.attemptsMade += 1;
    job.failedReason = error instanceof Error ? error.message : String(error);
    if (error instanceof Error && error.stack) job.stacktrace.push(error.stack);
  }

  /** Fails the job for good after `recordFailure`. */
  fail(job: TestingJob): void {
    this.finish(job, 'failed');
    const error = failure(job.name, job.publicId, job.failedReason ?? '', job.attemptsMade, job.stacktrace);
    for (const waiter of job.waiters) waiter.reject(error);
  }

  /** Removes a job that has not started (a cancellation). */
  remove(job: TestingJob): void {
    this.releaseDedup(job, true);
    job.state = 'cancelled';
    job.progressListeners.clear();
    for (const waiter of job.waiters) waiter.reject(cancelled(waiter.taskName, job.publicId));
  }

  /**
   * `waitResult()`: settles with the job's outcome, as production's waiter:
   * at once for a finished job, else when it finishes; `TaskWaitTimeoutError`
   * after `timeoutMs` (real time); `TaskWaitAbortedError` once the app closes.
   */
  wait(job: TestingJob, taskName: string, timeoutMs?: number): Promise<unknown> {
    const id = job.publicId;
    if (this.closed) return Promise.reject(new TaskWaitAbortedError(waitAborted(taskName, id), taskName, id));
    if (job.dropped) return Promise.reject(new TaskNotFoundError(jobVanished(id)));
    if (job.state === 'completed') return Promise.resolve(job.returnvalue);
    if (job.state === 'failed') return Promise.reject(failure(job.name, id, job.failedReason ?? '', job.attemptsMade, job.stacktrace));
    if (job.state === 'cancelled') return Promise.reject(cancelled(taskName, id));
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        if (timer) clearTimeout(timer);
        job.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        taskName,
        resolve: (value) => {
          settle();
          resolve(value);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      job.waiters.add(waiter);
      // Node's own timers: a test's fake timers (vi.useFakeTimers(), jest.useFakeTimers()) do not stop a wait from timing out.
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => waiter.reject(new TaskWaitTimeoutError(waitTimedOut(taskName, id, timeoutMs), taskName, id)), timeoutMs);
      }
    });
  }

  /** `onProgress()`: calls `listener` with each later progress, after the call that reported it returned, until the job finishes. */
  onProgress(job: TestingJob, listener: (progress: number | object) => void): () => void {
    if (this.closed || job.finished) return () => undefined;
    job.progressListeners.add(listener);
    return () => job.progressListeners.delete(listener);
  }

  /** `TaskClient.getJob()`: undefined for a job the kit no longer has, as for one Redis no longer has. */
  info(job: TestingJob): TaskJobInfo | undefined {
    if (job.state === 'cancelled' || job.dropped) return undefined;
    return {
      id: job.publicId,
      name: job.name,
      state: job.state,
      attemptsMade: job.attemptsMade,
      progress: job.progress,
      ...(job.state === 'completed' ? { result: job.returnvalue } : {}),
      ...(job.state === 'failed' ? { error: job.failedReason } : {}),
      enqueuedAt: new Date(job.timestamp),
      ...(job.finishedOn === undefined ? {} : { finishedAt: new Date(job.finishedOn) }),
    };
  }

  /** Forgets every job; their waiters learn that the job is gone (`TaskNotFoundError`), as when retention removes one. */
  reset(): void {
    const jobs = this.jobs;
    this.jobs = [];
    this.byId = new Map();
    this.dedup = new Map();
    this.generated = new Map();
    this.waiting = [];
    this.waitingHead = 0;
    this.prioritized = [];
    this.delayed = [];
    for (const job of jobs) {
      job.dropped = true;
      job.progressListeners.clear();
      for (const waiter of job.waiters) waiter.reject(new TaskNotFoundError(jobVanished(job.publicId)));
    }
  }

  /** Every waiter stops with `TaskWaitAbortedError`, and so does any later one, as when production's app closes. */
  onApplicationShutdown(): void {
    this.closed = true;
    for (const job of this.jobs) {
      job.progressListeners.clear();
      for (const waiter of job.waiters) waiter.reject(new TaskWaitAbortedError(waitAborted(waiter.taskName, job.publicId), waiter.taskName, job.publicId));
    }
  }

  private progress(job: TestingJob, progress: number | object): void {
    const copy = jsonCopy(progress);
    job.progress = copy;
    // After the handler's call returned, as production's listeners hear of it: a listener that throws fails the test, not the handler.
    for (const listener of job.progressListeners) queueMicrotask(() => listener(copy));
  }

  private finish(job: TestingJob, state: 'completed' | 'failed'): void {
    job.state = state;
    job.finishedOn = this.now();
    job.progressListeners.clear();
    this.releaseDedup(job, false);
  }

  /**
   * BullMQ drops a job's deduplication key when the job is removed, and when
   * it finishes unless the key has a window (`windowMs`): that one lasts its window.
   */
  private releaseDedup(job: TestingJob, removed: boolean): void {
    const id = job.opts.deduplication?.id;
    if (id === undefined) return;
    const dedupKey = key(job.queueName, id);
    const held = this.dedup.get(dedupKey);
    if (held?.job === job && (removed || held.expiresAt === undefined)) this.dedup.delete(dedupKey);
  }

  private nextId(bullQueue: string): number {
    const next = (this.generated.get(bullQueue) ?? 0) + 1;
    this.generated.set(bullQueue, next);
    return next;
  }

  private ready(job: TestingJob): void {
    this.list(job, job.opts.priority === undefined ? 'waiting' : 'prioritized');
  }

  private list(job: TestingJob, state: Entry['state']): void {
    job.state = state;
    job.seq = ++this.seq;
    const entry: Entry = { job, seq: job.seq, state };
    if (state === 'waiting') {
      this.waiting.push(entry);
    } else if (state === 'prioritized') {
      insertSorted(this.prioritized, entry, (a, b) => (a.job.opts.priority as number) - (b.job.opts.priority as number) || a.seq - b.seq);
    } else {
      insertSorted(this.delayed, entry, (a, b) => a.job.dueAt - b.job.dueAt || a.seq - b.seq);
    }
  }

  private isCurrent(entry: Entry): boolean {
    return entry.seq === entry.job.seq && entry.state === entry.job.state && !entry.job.dropped;
  }

  /** Delayed jobs whose time has come join the waiting (or prioritized) jobs, soonest first. */
  private promoteDue(): void {
    const now = this.now();
    let due = 0;
    while (due < this.delayed.length && (this.delayed[due] as Entry).job.dueAt <= now) due++;
    if (due === 0) return;
    for (const entry of this.delayed.splice(0, due)) if (this.isCurrent(entry)) this.ready(entry.job);
  }

  private firstWaiting(accept: (entry: Entry) => boolean): TestingJob | undefined {
    // Stale entries at the head are dropped as they are met; the array is compacted now and then.
    while (this.waitingHead < this.waiting.length && !this.isCurrent(this.waiting[this.waitingHead] as Entry)) this.waitingHead++;
    if (this.waitingHead > 1_024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
    for (let i = this.waitingHead; i < this.waiting.length; i++) {
      const entry = this.waiting[i] as Entry;
      if (accept(entry)) return entry.job;
    }
    return undefined;
  }

  /** The first accepted job of a sorted list, taken out of it; stale entries met at its head are dropped. */
  private first(entries: Entry[], accept: (entry: Entry) => boolean): TestingJob | undefined {
    let stale = 0;
    while (stale < entries.length && !this.isCurrent(entries[stale] as Entry)) stale++;
    if (stale > 0) entries.splice(0, stale);
    const index = entries.findIndex(accept);
    if (index < 0) return undefined;
    return (entries.splice(index, 1)[0] as Entry).job;
  }

  private activate(job: TestingJob): void {
    job.state = 'active';
    job.attemptsStarted += 1;
  }
}

function insertSorted<T>(items: T[], item: T, compare: (a: T, b: T) => number): void {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(items[mid] as T, item) <= 0) low = mid + 1;
    else high = mid;
  }
  items.splice(low, 0, item);
}
