import type { TaskContext } from '../task/task-context.interface.js';
import type { CronContext } from '../cron/cron-context.js';
import { DEFAULT_TASKS_OPTIONS } from '../options/resolve-tasks-options.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { jsonCopy } from './testing-jobs.js';
import { invalidContextField } from './testing.messages.js';

/** A `TaskContext` for a plain unit test of a task method, with what the test needs to drive and read it. */
export interface TestTaskContext extends TaskContext {
  /** What the method passed to `updateProgress`, in order (JSON copies, as production stores them). */
  readonly progressReports: readonly (number | Record<string, unknown>)[];
  /** Aborts `signal`, as a timeout, a cancellation or a shutdown does in production. */
  abort(reason?: unknown): void;
}

/** A `CronContext` for a plain unit test of a cron method. */
export interface TestCronContext extends CronContext {
  /** Aborts `signal`, as a lost lock or a shutdown does in production. */
  abort(reason?: unknown): void;
}

let lastJobId = 0;
let lastRunId = 0;
let lastFencingToken = 0;

/** Aborted by `abort()`, or with `given` when that aborts first. */
function signalOf(controller: AbortController, given: AbortSignal | undefined): AbortSignal {
  return given ? AbortSignal.any([controller.signal, given]) : controller.signal;
}

function positiveInteger(builder: string, field: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new TasksConfigurationError(invalidContextField(builder, field, value, 'a positive integer'));
}

/**
 * A `TaskContext` for calling a task method directly:
 * `await tasks.processUpload({ uploadId: 'a' }, taskContext({ attempt: 2 }))`.
 * Defaults: a fresh job id, task `task`, attempt 1 of 3 (the module's default
 * attempts), enqueued now, a signal that aborts only through `abort()` (or
 * the `signal` given). An attempt production cannot give (above `maxAttempts`)
 * is refused.
 */
export function taskContext(overrides: Partial<TaskContext> = {}): TestTaskContext {
  const controller = new AbortController();
  const progressReports: (number | Record<string, unknown>)[] = [];
  const attempt = overrides.attempt ?? 1;
  const maxAttempts = overrides.maxAttempts ?? Math.max(DEFAULT_TASKS_OPTIONS.defaultAttempts, attempt);
  positiveInteger('taskContext()', 'attempt', attempt);
  positiveInteger('taskContext()', 'maxAttempts', maxAttempts);
  if (attempt > maxAttempts) throw new TasksConfigurationError(invalidContextField('taskContext()', 'attempt', attempt, `at most maxAttempts (${maxAttempts})`));
  const own = overrides.updateProgress;
  return {
    jobId: overrides.jobId ?? String(++lastJobId),
    taskName: overrides.taskName ?? 'task',
    attempt,
    maxAttempts,
    enqueuedAt: overrides.enqueuedAt ?? new Date(),
    signal: signalOf(controller, overrides.signal),
    progressReports,
    async updateProgress(progress) {
      progressReports.push(jsonCopy(progress));
      if (own) await own(progress);
    },
    abort: (reason?: unknown) => controller.abort(reason),
  };
}

/**
 * A `CronContext` for calling a cron method directly. Defaults: cron
 * `cron`, a fresh run id, a fencing token larger than every one handed out
 * before by this function (as production's), scheduled now, `schedule`
 * trigger, attempt 1, a signal that aborts only through `abort()` (or the
 * `signal` given).
 */
export function cronContext(overrides: Partial<CronContext> = {}): TestCronContext {
  const controller = new AbortController();
  const attempt = overrides.attempt ?? 1;
  positiveInteger('cronContext()', 'attempt', attempt);
  const fencingToken = overrides.fencingToken ?? lastFencingToken + 1;
  lastFencingToken = Math.max(lastFencingToken, fencingToken);
  return {
    jobName: overrides.jobName ?? 'cron',
    runId: overrides.runId ?? ++lastRunId,
    fencingToken,
    scheduledAt: overrides.scheduledAt ?? new Date(),
    trigger: overrides.trigger ?? 'schedule',
    attempt,
    signal: signalOf(controller, overrides.signal),
    abort: (reason?: unknown) => controller.abort(reason),
  };
}
