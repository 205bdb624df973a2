import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TaskCatalog } from '../task/task.catalog.js';
import { parsePublicJobId } from '../task/job-ids.js';
import { bullQueueName } from '../options/task-queue-names.js';
import { taskMetadataOf } from '../client/enqueue-request.js';
import type { TaskClass, TaskMethodName, TaskPayload, TaskResult } from '../client/task-client.types.js';
import { TasksError } from '../errors/tasks.errors.js';
import { matchesPartially, type DeepPartial } from './deep-match.js';
import { TestingJobs, type EnqueuedJob, type TestingJob } from './testing-jobs.js';
import { TestingTaskWorker, type DrainOptions, type JobOutcome } from './testing-task-worker.js';
import { TestingMode } from './testing-mode.js';
import { TestingUserEvents, type PublishedUserEvent } from './testing-user-events.js';
import type { TasksTestingMode } from './testing-options.js';
import { CronTestDriver, type CronAttempt } from './cron-test-driver.js';
import type { CronRun } from './in-memory-run-store.js';
import {
  describeJob,
  enqueuedList,
  expectedEnqueued,
  expectedNotEnqueued,
  invalidExpectedCount,
  taskAndMatch,
  unknownTaskInExpectation,
} from './testing.messages.js';

/** Options of `expectEnqueued`. */
export interface ExpectEnqueuedOptions {
  /** Exactly this many matching jobs. Default: at least one. */
  count?: number;
}

/** Options of `runNext`. */
export interface RunNextOptions {
  /** Run a delayed job that is not due yet when nothing else is due. Default false. */
  includeDelayed?: boolean;
}

/** The kit's clock: time stands still until the test moves it. */
export interface TestingClock {
  /** The kit's time. */
  now(): Date;
  /**
   * Moves time forward by `ms`: the cron ticks in (now, now + `ms`] fire,
   * each at its instant, and the runs they start go as far as they can
   * before the next; delayed jobs that come due wait for `runNext()` or
   * `drain()` (inline mode: they run). Resolves with the cron runs written
   * meanwhile, oldest tick first.
   */
  advanceBy(ms: number): Promise<CronRun[]>;
  /** `advanceBy` up to an instant: the ticks in (now, `to`] fire. */
  advanceTo(to: Date | number): Promise<CronRun[]>;
}

/**
 * An expectation failed. From `expectEnqueued` and `expectNotEnqueued`, the
 * message lists what was enqueued; from `waitForJob` and `waitForCronRun`, it
 * says what was awaited, what was last seen, and what to check.
 */
export class TasksExpectationError extends TasksError {}

type Target = string | TaskClass<unknown>;

/**
 * The test's handle on the testing kit (`moduleRef.get(TasksTesting)`): what
 * was enqueued, running jobs on demand, the mode, published user events.
 *
 * ```ts
 * await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
 * tasks.expectEnqueued(UploadTasks, 'processUpload', { uploadId: 'a' });
 * const [outcome] = await tasks.drain();
 * ```
 */
@Injectable()
export class TasksTesting {
  /** The kit's clock, which the cron ticks, delayed jobs and deduplication windows follow. */
  readonly clock: TestingClock;

  /** @internal Built by Nest's injector. */
  constructor(
    private readonly modes: TestingMode,
    private readonly jobs: TestingJobs,
    private readonly worker: TestingTaskWorker,
    private readonly catalog: TaskCatalog,
    private readonly userEvents: TestingUserEvents,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly crons: CronTestDriver,
  ) {
    this.clock = {
      now: () => crons.now(),
      advanceBy: (ms) => this.passTime(() => crons.advanceBy(ms)),
      advanceTo: (to) => this.passTime(() => crons.advanceTo(to)),
    };
  }

  /** The mode `enqueue` uses here: the `withMode()` block's, else the module's. Setting it changes the module's. */
  get mode(): TasksTestingMode {
    return this.modes.current;
  }

  set mode(mode: TasksTestingMode) {
    this.modes.setDefault(mode);
  }

  /**
   * Runs `fn` with `mode` for every `enqueue` it makes, awaited or not;
   * code running at the same time outside it (another test) keeps its own mode.
   */
  withMode<T>(mode: TasksTestingMode, fn: () => T | Promise<T>): Promise<T> {
    return this.modes.run(mode, fn);
  }

  /** Every job enqueued since the start or the last `reset()`, in enqueue order. */
  enqueued(): EnqueuedJob[];
  /** The jobs of a task method whose payload matches `match` (partially: see `DeepPartial`). */
  enqueued<T, K extends TaskMethodName<T>>(taskClass: TaskClass<T>, method: K, match?: DeepPartial<TaskPayload<T, K>>): EnqueuedJob<TaskPayload<T, K>, TaskResult<T, K>>[];
  /** The jobs of a task by name whose payload matches `match`. */
  enqueued(name: string, match?: unknown): EnqueuedJob[];
  enqueued(target?: Target, ...args: unknown[]): EnqueuedJob[] {
    if (target === undefined) return this.jobs.all().map((job) => job.view);
    const { name, match } = this.read('enqueued()', target, args);
    return this.matching(name, match).map((job) => job.view);
  }

  /**
   * Throws `TasksExpectationError`, listing what was enqueued, unless a job
   * of the task with a payload matching `match` was enqueued (exactly
   * `count` of them, with `count`); returns the first such job.
   */
  expectEnqueued<T, K extends TaskMethodName<T>>(
    taskClass: TaskClass<T>,
    method: K,
    match?: DeepPartial<TaskPayload<T, K>>,
    options?: ExpectEnqueuedOptions,
  ): EnqueuedJob<TaskPayload<T, K>, TaskResult<T, K>>;
  expectEnqueued(name: string, match?: unknown, options?: ExpectEnqueuedOptions): EnqueuedJob;
  expectEnqueued(target: Target, ...args: unknown[]): EnqueuedJob {
    const { name, match, rest } = this.read('expectEnqueued()', target, args);
    const { count } = (rest[0] ?? {}) as ExpectEnqueuedOptions;
    if (count !== undefined && (!Number.isInteger(count) || count < 0)) throw new TasksError(invalidExpectedCount(count));
    const found = this.matching(name, match);
    const ok = count === undefined ? found.length > 0 : found.length === count;
    if (!ok) throw new TasksExpectationError(expectedEnqueued(taskAndMatch(name, match), count, found.length, this.list()));
    return (found[0] as TestingJob | undefined)?.view as EnqueuedJob;
  }

  /** Throws `TasksExpectationError`, listing them, when a job of the task with a payload matching `match` was enqueued. */
  expectNotEnqueued<T, K extends TaskMethodName<T>>(taskClass: TaskClass<T>, method: K, match?: DeepPartial<TaskPayload<T, K>>): void;
  expectNotEnqueued(name: string, match?: unknown): void;
  expectNotEnqueued(target: Target, ...args: unknown[]): void {
    const { name, match } = this.read('expectNotEnqueued()', target, args);
    const found = this.matching(name, match);
    if (found.length > 0) throw new TasksExpectationError(expectedNotEnqueued(taskAndMatch(name, match), found.length, this.list()));
  }

  /** The job with this public id (`handle.id`), while the kit has it. */
  job(id: string): EnqueuedJob | undefined {
    const parsed = parsePublicJobId(id);
    return parsed && this.jobs.find(bullQueueName(parsed.queue), parsed.storedId)?.view;
  }

  /**
   * Runs one attempt of the next due job, as a worker would take it
   * (oldest waiting first, then by priority; a delayed job once the kit's
   * clock reaches it); undefined when no job is due.
   */
  runNext(options: RunNextOptions = {}): Promise<JobOutcome | undefined> {
    return this.worker.runNext(options);
  }

  /**
   * Runs due jobs, one attempt at a time, until none is left: retries
   * included (their backoff is not waited for), jobs the handlers enqueue
   * too unless `recursive: false`, delayed jobs with `includeDelayed`.
   * Returns every attempt's outcome in order.
   */
  drain(options: DrainOptions = {}): Promise<JobOutcome[]> {
    return this.worker.drain(options);
  }

  /**
   * The runs of a cron, oldest tick first, as `cron_job_runs` would hold
   * them: status (COMPLETED, FAILED, SKIPPED, MISSED, RUNNING), tick,
   * attempt, fencing token, result, error and reason. A `track: false` cron
   * has none (see `attemptsOf`).
   */
  runsOf(cronName: string): CronRun[] {
    return this.crons.runsOf(cronName);
  }

  /** Every attempt of a cron the kit's worker ran, tracked or not, in the order they ended. */
  attemptsOf(cronName: string): CronAttempt[] {
    return this.crons.attemptsOf(cronName);
  }

  /**
   * Stops the kit's worker, as an outage: cron ticks and jobs wait (runs
   * going keep going) until `startWorker()`.
   */
  stopWorker(): void {
    this.crons.stopWorker();
    this.worker.stop();
  }

  /**
   * Starts the worker again: the waiting cron ticks run, oldest first, at
   * the current time, each judged by its catch-up policy; jobs wait for
   * `runNext()` or `drain()` (inline mode: they run). Resolves with the
   * cron runs written meanwhile.
   */
  async startWorker(): Promise<CronRun[]> {
    this.worker.start();
    const runs = await this.crons.startWorker();
    if (this.mode === 'inline') await this.worker.drain();
    return runs;
  }

  /**
   * Stops the kit's scheduler, as an outage of every scheduler replica: no
   * cron tick fires, however far the clock moves, until `startScheduler()`.
   * Runs going and jobs are not affected.
   */
  stopScheduler(): void {
    this.crons.stopScheduler();
  }

  /**
   * Starts the scheduler again, as a scheduler boots after an outage: the
   * ticks that fell meanwhile go through each cron's catch-up policy (run
   * now, or recorded MISSED; never replayed as a burst), and the next ticks
   * are armed. Resolves with the cron runs written meanwhile.
   */
  startScheduler(): Promise<CronRun[]> {
    return this.crons.startScheduler();
  }

  /**
   * Makes the lock of the cron's running run expire, as when Redis stays
   * away past the lock's TTL: its `ctx.signal` aborts with
   * `CronLockLostError`. False when no run holds it.
   */
  loseLock(cronName: string): boolean {
    return this.crons.loseLock(cronName);
  }

  /** The user events (`EventPublisher.publish`) published so far; only `userId`'s when given. */
  publishedEvents(userId?: string): PublishedUserEvent[] {
    return this.userEvents.published(userId);
  }

  /**
   * Forgets every job, cron run and published event, and arms the cron
   * ticks again from the current time; a `waitResult()` still waiting
   * rejects with `TaskNotFoundError`. The mode and the time are kept.
   */
  async reset(): Promise<void> {
    this.jobs.reset();
    this.userEvents.reset();
    await this.crons.reset();
  }

  /** Moves the clock; in inline mode, then runs the delayed jobs that came due. */
  private async passTime(advance: () => Promise<CronRun[]>): Promise<CronRun[]> {
    const delayed = this.mode === 'inline' ? this.jobs.all().filter((job) => job.state === 'delayed') : [];
    const runs = await advance();
    for (const job of delayed) await this.worker.runInline(job);
    return runs;
  }

  private read(where: string, target: Target, args: unknown[]): { name: string; match: unknown; rest: unknown[] } {
    if (typeof target === 'string') {
      if (!this.catalog.get(target) && !this.options.allowUnregisteredTasks) {
        throw new TasksError(unknownTaskInExpectation(where, target, this.catalog.names()));
      }
      return { name: target, match: args[0], rest: args.slice(1) };
    }
    return { name: taskMetadataOf(target, args[0] as string).name, match: args[1], rest: args.slice(2) };
  }

  private matching(name: string, match: unknown): TestingJob[] {
    return this.jobs.all().filter((job) => job.name === name && (match === undefined || matchesPartially(job.data, match)));
  }

  private list(): string {
    return enqueuedList(this.jobs.all().map((job) => describeJob(job.view)));
  }
}
