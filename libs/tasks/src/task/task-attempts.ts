import type { BackoffOptions as BullBackoff, JobsOptions, MinimalJob } from 'bullmq';
import type { BackoffOptions } from '../options/tasks-options.interface.js';

/**
 * The backoff type of the library's jobs. BullMQ hands a type it does not
 * know itself to the worker's `settings.backoffStrategy`, so the worker that
 * runs a job decides its retries by its own `@Task()` settings, whoever
 * enqueued it (a producer that enqueues by name does not know them).
 */
export const TASK_BACKOFF = 'nestjs-tasks';

/**
 * BullMQ's own cap on a library job's runs. It never stops a retry the
 * worker wants (the worker ends a job's retries itself), including those of
 * the new round a manual retry starts.
 */
export const ATTEMPTS_CEILING = 2_147_483_647;

/** The `backoff` of a library job: the worker's settings apply, except `attempts` when `enqueue` set them. */
export interface TaskJobBackoff extends BullBackoff {
  type: typeof TASK_BACKOFF;
  /** `EnqueueOptions.attempts`: this job's attempts, over the task's own. */
  attempts?: number;
}

/** The retry options every job `TaskClient` adds carries. */
export function taskJobRetryOptions(attempts: number | undefined): Pick<JobsOptions, 'attempts' | 'backoff'> {
  const backoff: TaskJobBackoff = attempts === undefined ? { type: TASK_BACKOFF } : { type: TASK_BACKOFF, attempts };
  return { attempts: ATTEMPTS_CEILING, backoff };
}

/** What a worker retries a task by: its `@Task()` settings, else the worker's module defaults. */
export interface TaskRetrySettings {
  readonly attempts?: number;
  readonly backoff?: BackoffOptions;
}

export interface TaskRetryDefaults {
  readonly defaultAttempts: number;
  readonly defaultBackoff: BackoffOptions;
}

/** Where a run stands among its job's attempts. */
export interface TaskAttempt {
  /** 1 on the first run of a round, never above `maxAttempts`. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** The first run after a manual retry (`job.retry()`, Bull Board's Retry) of a failed or completed job. */
  readonly manualRetry: boolean;
}

function libraryBackoff(job: Pick<MinimalJob, 'opts'>): TaskJobBackoff | undefined {
  const backoff = job.opts.backoff;
  return typeof backoff === 'object' && backoff.type === TASK_BACKOFF ? (backoff as TaskJobBackoff) : undefined;
}

/**
 * The attempt a run of `job` is. A library job's attempts come in rounds of
 * `maxAttempts`: BullMQ keeps counting `attemptsMade` across a manual retry,
 * so a job retried after it used all its attempts starts a new round (1/N),
 * and one that failed early (NonRetriableError, cancelled) runs the rest of
 * its round. A job added some other way (an older producer, a plain
 * `queue.add`) is retried by BullMQ from its own options: a manual retry of
 * it gets one run, which is then its last attempt.
 */
export function taskAttempt(
  job: Pick<MinimalJob, 'opts' | 'attemptsMade' | 'failedReason'>,
  task: TaskRetrySettings,
  defaults: TaskRetryDefaults,
): TaskAttempt {
  // A manual retry clears failedReason; a retry BullMQ schedules itself keeps it.
  const manualRetry = job.attemptsMade > 0 && !job.failedReason;
  const library = libraryBackoff(job);
  if (library) {
    const maxAttempts = library.attempts ?? task.attempts ?? defaults.defaultAttempts;
    return { attempt: (job.attemptsMade % maxAttempts) + 1, maxAttempts, manualRetry };
  }
  const maxAttempts = Math.max(job.opts.attempts ?? 1, 1);
  return { attempt: Math.min(job.attemptsMade + 1, maxAttempts), maxAttempts, manualRetry };
}

/**
 * The delay before the next attempt of a library job whose attempt number
 * `attemptsMade` (1-based, the one that just failed) failed, or -1 when that
 * was the last of its round (BullMQ then fails it for good).
 */
export function taskRetryDelay(
  job: Pick<MinimalJob, 'opts'>,
  attemptsMade: number,
  task: TaskRetrySettings,
  defaults: TaskRetryDefaults,
): number {
  const maxAttempts = libraryBackoff(job)?.attempts ?? task.attempts ?? defaults.defaultAttempts;
  const attempt = ((attemptsMade - 1) % maxAttempts) + 1;
  if (attempt >= maxAttempts) return -1;
  const { type, delayMs } = task.backoff ?? defaults.defaultBackoff;
  return type === 'fixed' ? delayMs : delayMs * 2 ** (attempt - 1);
}
