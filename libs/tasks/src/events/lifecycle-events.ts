// The payload of each lifecycle event, by name. They carry names, ids,
// attempts, durations, statuses and reasons: never a job's payload or
// result, nor an error's message (it may quote either), so a subscriber may
// ship them anywhere. Durations are milliseconds, fractional.

/** One attempt of a task job, as every task event names it. */
export interface TaskAttemptFields {
  /** The task's name (`@Task({ name })`, else the method's). */
  readonly task: string;
  /** The BullMQ queue of the job: `tasks.default`, or `tasks.<queue>`. */
  readonly queue: string;
  /** The job's id, as `TaskHandle.id` shows it. */
  readonly jobId: string;
  /** This attempt, from 1. */
  readonly attempt: number;
  /** How many attempts the job may have, by this worker's settings of the task. */
  readonly maxAttempts: number;
}

/** `task.enqueued`: this process added a job of the task (`enqueue`, each job of `enqueueMany`). */
export interface TaskEnqueuedEvent {
  readonly task: string;
  readonly queue: string;
  readonly jobId: string;
}

/** `task.started`: a worker starts an attempt. */
export interface TaskStartedEvent extends TaskAttemptFields {
  /** The job was retried by hand (`TaskClient.retry`) after it had failed. */
  readonly manualRetry: boolean;
}

/** Why a task failed for good. */
export type TaskFailureReason =
  /** It threw on its last attempt (a timeout included). */
  | 'attempts-exhausted'
  /** It threw a `NonRetriableError` (or returned a result that is not JSON): no attempt follows. */
  | 'not-retriable'
  /** `TaskHandle.cancel()` aborted it. */
  | 'cancelled';

/**
 * `task.finished`: the job is done, on this attempt. An attempt that fails
 * with another to come is `task.retried` instead; one interrupted by the
 * worker's shutdown has no end here (the job is `job.handedBack`, and runs
 * again elsewhere).
 */
export type TaskFinishedEvent = TaskAttemptFields & { readonly durationMs: number } & (
    | { readonly status: 'completed' }
    | {
        readonly status: 'failed';
        readonly reason: TaskFailureReason;
        /** The class of what it threw (`TaskTimeoutError`, `TypeError`, …). */
        readonly errorType: string;
      }
  );

/** `task.retried`: an attempt failed, and the job will run again after its backoff. */
export interface TaskRetriedEvent extends TaskAttemptFields {
  readonly durationMs: number;
  /** The class of what it threw. */
  readonly errorType: string;
}

/** How a cron run came about. */
export type CronTrigger = 'schedule' | 'manual';

/** `cron.tick.enqueued`: this scheduler added the tick's job (every replica adds every tick; the queue keeps one). */
export interface CronTickEnqueuedEvent {
  readonly cron: string;
  readonly scheduledAt: Date;
  /** This scheduler held the scheduler lease: it added the job at the tick, not as a backup half a second later. */
  readonly leader: boolean;
}

/** What decided that a tick would not run. */
export type CronMissedCause =
  /** The scheduler woke, or started, after ticks fell due, and the cron's catch-up policy let them go. */
  | 'catch-up'
  /** A worker took the tick's job later than the cron's catch-up policy allows. */
  | 'late-start'
  /** The scheduler could not add the tick's job while the catch-up policy would still run it. */
  | 'enqueue-failed';

/** `cron.tick.missed`: a tick that does not run (MISSED), from the scheduler or the worker that found it late. */
export interface CronTickMissedEvent {
  readonly cron: string;
  readonly scheduledAt: Date;
  readonly cause: CronMissedCause;
  /** As its row says it (`Missed: …`). */
  readonly reason: string;
  /** This process wrote the tick's MISSED row (false for `track: false`, when the tick already had a row, or when the write failed). */
  readonly recorded: boolean;
}

/** One attempt at one tick (or manual trigger) of a cron, as every run event names it. */
export interface CronRunFields {
  readonly cron: string;
  /** The tick (for a manual trigger, when it was triggered). */
  readonly scheduledAt: Date;
  readonly trigger: CronTrigger;
  readonly attempt: number;
}

/**
 * `cron.run.claimed`: the run holds its lock (unless `overlap: 'allow'`) and
 * its RUNNING row; the handler starts now.
 */
export interface CronRunClaimedEvent extends CronRunFields {
  /** Its row in `cron_job_runs` (absent for `track: false`). */
  readonly runId?: number;
  /** This attempt's fencing token (absent for `track: false`). */
  readonly fencingToken?: number;
  /** It resumes a run handed back at shutdown by another worker. */
  readonly resumed: boolean;
}

/** `cron.run.skipped`: a run of the cron was still going, so this tick did not run (SKIPPED). */
export interface CronRunSkippedEvent extends CronRunFields {
  /** As its row says it (`Skipped: …`). */
  readonly reason: string;
  /** This process wrote the SKIPPED row (false for `track: false`, or when the tick already had a row). */
  readonly recorded: boolean;
}

/** `cron.run.finished`: the handler returned (COMPLETED) or threw (FAILED). */
export type CronRunFinishedEvent = CronRunFields & {
  readonly runId?: number;
  readonly fencingToken?: number;
  readonly durationMs: number;
  /**
   * The outcome is in the run's row (false for `track: false`, and when the
   * row was marked lost or reclaimed while the handler ran: see `cron.run.fenced`).
   */
  readonly recorded: boolean;
} & ({ readonly status: 'COMPLETED' } | { readonly status: 'FAILED'; readonly errorType: string });

/** `cron.run.lost`: a RUNNING row whose worker went silent past its liveness bound was marked FAILED (`Worker lost`). */
export interface CronRunLostEvent {
  readonly cron: string;
  readonly runId: number;
  /** The library's sweep found it, or the cron's next run did when it found the row in its way. */
  readonly foundBy: 'sweep' | 'next-run';
}

/** `cron.run.fenced`: a write of a run was refused by its fencing token: its row was marked lost, or another attempt reclaimed it. */
export interface CronRunFencedEvent {
  readonly cron: string;
  readonly runId: number;
  readonly fencingToken: number;
  /** What was refused. A refused heartbeat aborts the run (`CronRunLostError`). */
  readonly write: 'heartbeat' | 'outcome' | 'hand-back';
}

/** `cron.lock.extensionFailed`: extending a running cron's Redis lock failed. */
export interface CronLockExtensionFailedEvent {
  readonly cron: string;
  /**
   * The lock expired unextended: the run is told (`CronLockLostError`). While
   * false, the extension is retried as long as the lock is valid.
   */
  readonly expired: boolean;
}

/** `scheduler.lease.changed`: this scheduler took the scheduler lease, or lost (or gave up) it. */
export interface SchedulerLeaseChangedEvent {
  readonly held: boolean;
  /** This scheduler replica (host, pid and a random part), as the lease's value names it. */
  readonly schedulerId: string;
}

/** `job.handedBack`: at shutdown, past the grace period, a running job went back to its queue, its attempt not used up. */
export interface JobHandedBackEvent {
  /** The BullMQ queue: `tasks.<queue>`, or `tasks.cron` for a cron run. */
  readonly queue: string;
  readonly jobId: string;
  /** The task's (or the cron's) name. */
  readonly jobName: string;
}

/** Every lifecycle event `TasksEvents` emits, by name. */
export interface TasksEventMap {
  'task.enqueued': TaskEnqueuedEvent;
  'task.started': TaskStartedEvent;
  'task.finished': TaskFinishedEvent;
  'task.retried': TaskRetriedEvent;
  'cron.tick.enqueued': CronTickEnqueuedEvent;
  'cron.tick.missed': CronTickMissedEvent;
  'cron.run.claimed': CronRunClaimedEvent;
  'cron.run.skipped': CronRunSkippedEvent;
  'cron.run.finished': CronRunFinishedEvent;
  'cron.run.lost': CronRunLostEvent;
  'cron.run.fenced': CronRunFencedEvent;
  'cron.lock.extensionFailed': CronLockExtensionFailedEvent;
  'scheduler.lease.changed': SchedulerLeaseChangedEvent;
  'job.handedBack': JobHandedBackEvent;
}

/** The name of a lifecycle event, e.g. `task.started`: a key of {@link TasksEventMap}. */
export type TasksEventName = keyof TasksEventMap;

// A record, so that a name added to the map and not here fails to compile.
const NAMES: Record<TasksEventName, true> = {
  'task.enqueued': true,
  'task.started': true,
  'task.finished': true,
  'task.retried': true,
  'cron.tick.enqueued': true,
  'cron.tick.missed': true,
  'cron.run.claimed': true,
  'cron.run.skipped': true,
  'cron.run.finished': true,
  'cron.run.lost': true,
  'cron.run.fenced': true,
  'cron.lock.extensionFailed': true,
  'scheduler.lease.changed': true,
  'job.handedBack': true,
};

/** Every event name. */
export const TASKS_EVENT_NAMES = Object.keys(NAMES) as readonly TasksEventName[];

/** The class of what a handler threw (`TypeError`, `TaskTimeoutError`), never its message: it may quote data. */
export function errorType(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  return error.constructor.name === 'Error' ? error.name : error.constructor.name;
}
