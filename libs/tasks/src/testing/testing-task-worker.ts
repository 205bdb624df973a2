import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TaskCatalog } from '../task/task.catalog.js';
import { TASK_BACKOFF, taskAttempt } from '../task/task-attempts.js';
import { JobAbort, JobCancelledAbort, WorkerShutdownAbort } from '../task/job-abort.js';
import { CANCELLED_REASON } from '../queues/job-cancellation.js';
import { TaskRunner } from '../worker/task-runner.js';
import { RunLogContext } from '../observability/run-log-context.js';
import { unknownTaskOnWorker } from '../errors/tasks.messages.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { escapeLogText } from '../redaction/escape-log-text.js';
import { TasksEvents } from '../events/tasks-events.js';
import { TestingJobs, type EnqueuedJob, type TakeOptions, type TestingJob } from './testing-jobs.js';
import { drainRunaway, invalidDrainLimit } from './testing.messages.js';

/** How one attempt of a job ended. */
export interface JobOutcome {
  readonly job: EnqueuedJob;
  /** This run's attempt, 1-based, as `ctx.attempt` had it. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /**
   * `completed`; `retrying` (it failed and has attempts left: it is back in
   * line at once, production would wait `retryDelayMs`); `failed` for good
   * (last attempt, `NonRetriableError`, timeout on the last attempt, an
   * invalid result); `cancelled` (its signal was aborted by `cancel()`);
   * `interrupted` (the app closed while it ran: it is back in line).
   */
  readonly status: 'completed' | 'retrying' | 'failed' | 'cancelled' | 'interrupted';
  /** The handler's result, after a JSON round trip. */
  readonly result?: unknown;
  /** Why it failed, as production records it (the error's message). */
  readonly error?: string;
  /** The backoff production would wait before the next attempt, by the task's settings. */
  readonly retryDelayMs?: number;
}

/** Options of `TasksTesting.drain()`. */
export interface DrainOptions {
  /** Also run delayed jobs that are not due yet (soonest first), once nothing else is left. Default false. */
  includeDelayed?: boolean;
  /** Also run the jobs that the drained jobs enqueue, and theirs. Default true; false runs only the jobs there at the start (with their retries). */
  recursive?: boolean;
  /** Attempts after which `drain()` gives up with an error: a handler that enqueues itself forever. Default 10000. */
  maxRuns?: number;
}

const DEFAULT_MAX_RUNS = 10_000;

/**
 * Runs the kit's jobs through the production TaskRunner, one attempt at a
 * time: the handler's context, timeout, cancellation, result check and
 * NonRetriableError are production's, and so are the attempts and backoff
 * (`taskAttempt`, the runner's `backoffStrategy`), except that a retry is
 * due at once.
 */
@Injectable()
export class TestingTaskWorker implements BeforeApplicationShutdown {
  private readonly running = new Map<TestingJob, JobAbort>();
  private connecting?: Promise<void>;
  /** Set once the app closes: as a worker that stopped, it takes no more jobs. */
  private closed = false;
  /** Set by `stop()`: jobs wait, as during a worker outage. */
  private stopped = false;

  /** @internal Built by Nest's injector. */
  constructor(
    private readonly jobs: TestingJobs,
    private readonly runner: TaskRunner,
    private readonly catalog: TaskCatalog,
    private readonly logContext: RunLogContext,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly events: TasksEvents,
  ) {}

  /** One attempt of the next due job; undefined when none is due. */
  async runNext(options: TakeOptions = {}): Promise<JobOutcome | undefined> {
    if (!this.taking) return undefined;
    const job = this.jobs.takeNext(options);
    return job && this.attempt(job);
  }

  /** Runs jobs until none is left that `options` lets it run; the outcome of every attempt, in order. */
  async drain({ includeDelayed = false, recursive = true, maxRuns = DEFAULT_MAX_RUNS }: DrainOptions = {}): Promise<JobOutcome[]> {
    if (!Number.isInteger(maxRuns) || maxRuns < 1) throw new TasksConfigurationError(invalidDrainLimit(maxRuns));
    const among = recursive ? undefined : new Set(this.jobs.all().filter((job) => !job.finished && job.state !== 'active'));
    const outcomes: JobOutcome[] = [];
    for (;;) {
      if (!this.taking) return outcomes;
      const job = this.jobs.takeNext({ includeDelayed, among });
      if (!job) return outcomes;
      if (outcomes.length >= maxRuns) {
        this.jobs.requeue(job);
        throw new TasksConfigurationError(drainRunaway(maxRuns, job.name));
      }
      outcomes.push(await this.attempt(job));
    }
  }

  /** Inline mode: every attempt of `job` now, while it is due; its outcomes. */
  async runInline(job: TestingJob): Promise<JobOutcome[]> {
    const outcomes: JobOutcome[] = [];
    while (this.taking && this.jobs.isDue(job) && this.jobs.take(job)) outcomes.push(await this.attempt(job));
    return outcomes;
  }

  /** Takes no job until `start()`: jobs wait, as during a worker outage (runs going keep going). */
  stop(): void {
    this.stopped = true;
  }

  start(): void {
    this.stopped = false;
  }

  private get taking(): boolean {
    return !this.closed && !this.stopped;
  }

  /** `cancel()`: a job not started is removed, a running one has its signal aborted. */
  cancel(job: TestingJob): 'removed' | 'signalled' | 'finished' {
    if (job.finished || job.dropped) return 'finished';
    const abort = this.running.get(job);
    if (abort) {
      abort.abort(new JobCancelledAbort());
      return 'signalled';
    }
    this.jobs.remove(job);
    return 'removed';
  }

  /** As a worker that shuts down past its grace period: it takes no more jobs, and running ones are aborted and go back in line. */
  beforeApplicationShutdown(): void {
    this.closed = true;
    for (const abort of this.running.values()) abort.abort(new WorkerShutdownAbort());
  }

  private async attempt(job: TestingJob): Promise<JobOutcome> {
    // Listed before anything is awaited: a cancellation from now on aborts the run, as production's does once a worker took the job.
    const abort = new JobAbort();
    this.running.set(job, abort);
    try {
      try {
        await (this.connecting ??= this.logContext.connect());
      } catch (error) {
        this.connecting = undefined;
        this.jobs.requeue(job);
        throw error;
      }
      const task = this.catalog.get(job.name);
      const { attempt, maxAttempts } = taskAttempt(job, task ?? {}, this.options);
      const outcome = (status: JobOutcome['status'], extra: Partial<JobOutcome> = {}): JobOutcome => ({ job: job.view, attempt, maxAttempts, status, ...extra });
      // A job no handler of this app runs, from this queue: production fails it without retries once no other app has it.
      if (task?.queue !== job.queue) {
        this.jobs.recordFailure(job, new UnrecoverableError(unknownTaskOnWorker(escapeLogText(job.name), job.queue, this.catalog.names(), task?.queue)));
        this.jobs.fail(job);
        return outcome('failed', { error: job.failedReason });
      }
      let result: unknown;
      try {
        result = await this.runner.run({ task, job: job as unknown as Job, abort });
      } catch (error) {
        if (abort.reason instanceof WorkerShutdownAbort) {
          this.jobs.requeue(job);
          this.events.emit('job.handedBack', { queue: job.queueName, jobId: job.publicId, jobName: job.name });
          return outcome('interrupted');
        }
        this.jobs.recordFailure(job, error);
        const delay = error instanceof UnrecoverableError ? -1 : await this.runner.backoffStrategy(job.attemptsMade, TASK_BACKOFF, error as Error, job as unknown as Job);
        if (delay < 0) {
          this.jobs.fail(job);
          return outcome(job.failedReason === CANCELLED_REASON ? 'cancelled' : 'failed', { error: job.failedReason });
        }
        this.jobs.requeue(job);
        return outcome('retrying', { error: job.failedReason, retryDelayMs: delay });
      }
      this.jobs.complete(job, result);
      return outcome('completed', { result: job.returnvalue });
    } finally {
      this.running.delete(job);
    }
  }
}
