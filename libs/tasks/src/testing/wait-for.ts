import { clearTimeout, setTimeout } from 'node:timers';
import type { TaskClient } from '../client/task-client.js';
import type { TaskJobInfo, TaskJobState } from '../client/task-client.types.js';
import type { CronRunsService } from '../tracking/cron-runs.service.js';
import type { CronJobRun } from '../tracking/cron-job-run.entity.js';
import { CronRunStatus } from '../tracking/cron-run-status.js';
import { TasksError, UnknownCronError } from '../errors/tasks.errors.js';
import { parsePublicJobId } from '../task/job-ids.js';
import { TasksExpectationError } from './tasks-testing.js';
import {
  cronRunEnded,
  cronRunNotYet,
  cronRunSeen,
  cronRunTimedOut,
  invalidWaitOption,
  invalidWaitTarget,
  jobEnded,
  jobNotFound,
  jobSeen,
  jobTimedOut,
} from './testing.messages.js';

/** Options of {@link waitForJob}. */
export interface WaitForJobOptions {
  /** Give up after this many ms, with a `TasksExpectationError` saying what was last seen. Count a worker's boot in it. */
  timeoutMs: number;
  /** Ms between two reads of the job. Default 50. */
  intervalMs?: number;
}

/** Options of {@link waitForCronRun}. */
export interface WaitForCronRunOptions {
  /** Give up after this many ms, with a `TasksExpectationError` saying what was last seen. Count a worker's boot in it. */
  timeoutMs: number;
  /** Ms between two reads of the runs. Default 50. */
  intervalMs?: number;
  /**
   * The run awaited is the cron's first one scheduled at or after this
   * instant (a manual trigger is scheduled when `trigger()` is called). Take
   * it before the trigger or the tick: `const since = new Date()`. Default:
   * the cron's first run, the only one in a fresh prefix.
   */
  since?: Date | number;
  /**
   * The cron's `attempts` (`@Cron({ attempts })`, default 1): a FAILED run
   * that has made fewer may still be retried, so only then does awaiting
   * another status fail at once.
   */
  attempts?: number;
}

/** What one read says: the awaited thing is there, can never be, or not yet (and what was seen). */
type Look<T> = { done: T } | { fail: string } | { wait: string };

const DEFAULT_INTERVAL_MS = 50;
const FINAL_JOB_STATES: ReadonlySet<TaskJobState> = new Set(['completed', 'failed']);
const JOB_STATES: readonly TaskJobState[] = ['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed', 'waiting-children'];
const RUN_STATUSES: readonly CronRunStatus[] = Object.values(CronRunStatus);

/**
 * Waits until a job reaches `expected` (a state, or a predicate on the job)
 * and resolves with the job as `TaskJobInfo`, for tests of an app on a real
 * Redis with a real worker. It reads `client.getJob()` every `intervalMs`.
 *
 * It rejects with `TasksExpectationError` naming the job, what was awaited,
 * the last state seen and what to check: after `timeoutMs`; at once when
 * the job has ended otherwise (awaited `'completed'`, it `'failed'`: the
 * message has its error), or when no such job is retained. A predicate
 * returns true or false; what it throws ends the wait, as what `getJob()`
 * throws does.
 *
 * ```ts
 * const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a' });
 * const job = await waitForJob(client, handle, 'completed', { timeoutMs: 30_000 });
 * expect(job.result).toEqual({ processed: 'a' });
 * ```
 */
export function waitForJob(
  client: Pick<TaskClient, 'getJob'>,
  job: string | { readonly id: string },
  expected: TaskJobState | ((job: TaskJobInfo) => boolean),
  options: WaitForJobOptions,
): Promise<TaskJobInfo> {
  // Checked as the call gives it: a test may pass what its types did not foresee (an undefined handle).
  const id: unknown = typeof job === 'string' ? job : (job as { id?: unknown } | null | undefined)?.id;
  if (typeof id !== 'string' || id === '') return Promise.reject(new TasksError(invalidWaitTarget('waitForJob', 'job', job, 'a job id or the handle enqueue() returned')));
  if (typeof expected !== 'function' && !JOB_STATES.includes(expected)) {
    return Promise.reject(new TasksError(invalidWaitTarget('waitForJob', 'expected state', expected, `one of ${JOB_STATES.map((s) => `'${s}'`).join(', ')}, or a predicate`)));
  }
  const awaited = typeof expected === 'function' ? 'the state its predicate accepts' : `'${expected}'`;
  const accepts = typeof expected === 'function' ? expected : (info: TaskJobInfo) => info.state === expected;
  const queue = parsePublicJobId(id)?.queue;
  return poll<TaskJobInfo>('waitForJob', options, (timeoutMs, last) => jobTimedOut(id, awaited, timeoutMs, last, queue), async () => {
    const info = await client.getJob(id);
    if (!info) return { fail: jobNotFound(id, awaited) };
    if (accepts(info)) return { done: info };
    if (FINAL_JOB_STATES.has(info.state)) return { fail: jobEnded(info, typeof expected === 'function' ? undefined : expected) };
    return { wait: jobSeen(info) };
  });
}

/**
 * Waits until a run of cron `name` reaches `expected` (a `CronRunStatus`, or
 * a predicate on the run) and resolves with the run, as `cron_job_runs`
 * holds it, for tests of an app on a real Redis and Postgres with a real
 * worker. The run awaited is the cron's first one scheduled at or after
 * `since`; it reads `runs.find()` every `intervalMs`, and takes a cron no
 * scheduler has reconciled yet (`UnknownCronError`) for one without runs.
 *
 * It rejects with `TasksExpectationError` naming the cron, what was awaited,
 * the last run seen and what to check: after `timeoutMs`, or at once when
 * the run has ended otherwise (awaited COMPLETED, it FAILED with no attempt
 * left: the message has its error; it was SKIPPED or MISSED: its reason).
 * What `find()` or a predicate throws ends the wait.
 *
 * ```ts
 * const since = new Date();
 * await crons.trigger('cleanupExpiredData');
 * const run = await waitForCronRun(runs, 'cleanupExpiredData', CronRunStatus.COMPLETED, { since, timeoutMs: 30_000 });
 * ```
 */
export function waitForCronRun(
  runs: Pick<CronRunsService, 'find'>,
  name: string,
  expected: CronRunStatus | ((run: CronJobRun) => boolean),
  options: WaitForCronRunOptions,
): Promise<CronJobRun> {
  if (typeof name !== 'string' || name === '') return Promise.reject(new TasksError(invalidWaitTarget('waitForCronRun', 'cron name', name, "the cron's name, as in cron_job_runs")));
  if (typeof expected !== 'function' && !RUN_STATUSES.includes(expected)) {
    return Promise.reject(new TasksError(invalidWaitTarget('waitForCronRun', 'expected status', expected, `one of ${RUN_STATUSES.join(', ')}, or a predicate`)));
  }
  const { since: sinceOption, attempts = 1 } = options ?? {};
  const since = sinceOption === undefined ? undefined : sinceOption instanceof Date ? sinceOption.getTime() : sinceOption;
  if (since !== undefined && !Number.isFinite(since)) return Promise.reject(new TasksError(invalidWaitOption('waitForCronRun', 'since', sinceOption instanceof Date ? String(sinceOption) : sinceOption, 'a valid Date or epoch ms')));
  if (!Number.isInteger(attempts) || attempts < 1) return Promise.reject(new TasksError(invalidWaitOption('waitForCronRun', 'attempts', attempts, 'a positive integer')));
  const awaited = typeof expected === 'function' ? 'the status its predicate accepts' : expected;
  const accepts = typeof expected === 'function' ? expected : (run: CronJobRun) => run.status === expected;
  return poll<CronJobRun>('waitForCronRun', options, (timeoutMs, last) => cronRunTimedOut(name, awaited, since, timeoutMs, last), async () => {
    let rows: CronJobRun[];
    try {
      rows = await runs.find({ job: name, limit: 500 });
    } catch (error) {
      // No row and no schedule: a cron that no scheduler has reconciled has not run yet, or it is misspelt (the message lists the names).
      if (error instanceof UnknownCronError) return { wait: cronRunNotYet(error.message) };
      throw error;
    }
    // Newest first: the awaited run is the oldest of those at or after `since`.
    const run = rows.filter((row) => since === undefined || row.scheduledAt.getTime() >= since).at(-1);
    if (!run) return { wait: cronRunNotYet(rows[0] && `the latest run is older: ${cronRunSeen(rows[0])}`) };
    if (accepts(run)) return { done: run };
    if (isFinal(run, attempts)) return { fail: cronRunEnded(name, run, typeof expected === 'function' ? undefined : expected, attempts) };
    return { wait: cronRunSeen(run) };
  });
}

/** Whether a run's row can change no more: it ended, and no retry nor hand-back will claim it again. */
function isFinal(run: CronJobRun, attempts: number): boolean {
  if (run.status === CronRunStatus.RUNNING) return false;
  if (run.status === CronRunStatus.FAILED) return !run.handedBack && run.attempt >= attempts;
  return true;
}

const EXPIRED = Symbol('expired');

/**
 * Reads with `look` until it says done or fail, or `timeoutMs` passes, a
 * read that hangs included. Node's own timers, so a test's fake timers
 * neither stall it nor fire it early; every timer is cleared on the way out.
 */
async function poll<T>(where: string, options: WaitForJobOptions, timedOut: (timeoutMs: number, last: string | undefined) => string, look: () => Promise<Look<T>>): Promise<T> {
  const { timeoutMs, intervalMs = DEFAULT_INTERVAL_MS } = options ?? ({} as Partial<WaitForJobOptions>);
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TasksError(invalidWaitOption(where, 'timeoutMs', timeoutMs, 'a positive number of ms'));
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs <= 0) throw new TasksError(invalidWaitOption(where, 'intervalMs', intervalMs, 'a positive number of ms'));
  let deadlineTimer: NodeJS.Timeout | undefined;
  let pauseTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof EXPIRED>((resolve) => (deadlineTimer = setTimeout(() => resolve(EXPIRED), timeoutMs)));
  let last: string | undefined;
  try {
    for (;;) {
      const read = look();
      // Past the deadline nobody awaits the read: its failure must not surface as an unhandled rejection.
      read.catch(() => undefined);
      const seen = await Promise.race([read, deadline]);
      if (seen === EXPIRED) throw new TasksExpectationError(timedOut(timeoutMs, last));
      if ('done' in seen) return seen.done;
      if ('fail' in seen) throw new TasksExpectationError(seen.fail);
      last = seen.wait;
      const pause = new Promise<void>((resolve) => (pauseTimer = setTimeout(resolve, intervalMs)));
      if ((await Promise.race([pause, deadline])) === EXPIRED) throw new TasksExpectationError(timedOut(timeoutMs, last));
    }
  } finally {
    clearTimeout(deadlineTimer);
    clearTimeout(pauseTimer);
  }
}
