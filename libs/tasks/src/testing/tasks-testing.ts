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

/** An expectation failed: the message lists what was enqueued. */
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
  /** @internal Built by Nest's injector. */
  constructor(
    private readonly modes: TestingMode,
    private readonly jobs: TestingJobs,
    private readonly worker: TestingTaskWorker,
    private readonly catalog: TaskCatalog,
    private readonly userEvents: TestingUserEvents,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
  ) {}

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

  /** The user events (`EventPublisher.publish`) published so far; only `userId`'s when given. */
  publishedEvents(userId?: string): PublishedUserEvent[] {
    return this.userEvents.published(userId);
  }

  /** Forgets every job and published event; a `waitResult()` still waiting rejects with `TaskNotFoundError`. The mode is kept. */
  reset(): void {
    this.jobs.reset();
    this.userEvents.reset();
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
