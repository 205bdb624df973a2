/** Base class of every error the library throws, so callers can catch them as one family. */
export class TasksError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Boot-time configuration problem: a duplicate task name, a bad option, a missing module. */
export class TasksConfigurationError extends TasksError {}

/** `enqueue` of a task name that no module in this process registered. */
export class UnknownTaskError extends TasksError {
  constructor(
    message: string,
    readonly taskName: string,
    readonly knownTasks: readonly string[],
  ) {
    super(message);
  }
}

/**
 * A cron name the deployment lacks: `CronRegistry.pause()` or `resume()` of a
 * cron without a schedule, `trigger()` or `nextTicks()` of a cron this
 * process's code does not declare, `CronRunsService` asked for the runs of a
 * cron without a schedule. `knownCrons` lists the names that would have done.
 */
export class UnknownCronError extends TasksError {
  constructor(
    message: string,
    readonly cronName: string,
    readonly knownCrons: readonly string[],
  ) {
    super(message);
  }
}

/**
 * Pausing, resuming or triggering one of the library's own maintenance crons
 * (`tasks.sweepLostRuns`, `tasks.pruneCronRuns`): they run on their own schedule.
 */
export class InternalCronError extends TasksError {
  constructor(
    message: string,
    readonly cronName: string,
  ) {
    super(message);
  }
}

/** A payload that would not survive a JSON round trip; `path` points at the offending value. */
export class InvalidPayloadError extends TasksError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/**
 * Throw from a task to fail it at once, without the remaining retries
 * (bad input, a missing record: anything a retry cannot fix).
 */
export class NonRetriableError extends TasksError {}

/** `waitResult()` saw the task fail for good; carries the remote error's name and message. */
export class TaskFailedError extends TasksError {
  constructor(
    message: string,
    readonly taskName: string,
    readonly jobId: string,
    readonly attemptsMade: number,
    readonly remoteStack?: string,
  ) {
    super(message);
  }
}

/** The job was cancelled (`handle.cancel()`) before it finished: removed from its queue, or its run aborted. */
export class TaskCancelledError extends TaskFailedError {}

/** `waitResult({ timeoutMs })` gave up waiting; the job itself is unaffected. */
export class TaskWaitTimeoutError extends TasksError {
  constructor(
    message: string,
    readonly taskName: string,
    readonly jobId: string,
  ) {
    super(message);
  }
}

/** The handler ran longer than its `@Task({ timeoutMs })`. */
export class TaskTimeoutError extends TasksError {}

/** The job disappeared (removed, or retention expired) before its outcome was read. */
export class TaskNotFoundError extends TasksError {}

/** A dependency (Redis, Postgres) cannot be reached at start-up. */
export class ServiceUnreachableError extends TasksError {}

/** A cron run was not executed because its RUNNING row could not be written (Postgres unreachable). */
export class CronRunNotRecordedError extends TasksError {}

/** An `enqueue` option that cannot be used (a `jobId` with control characters, a negative `delayMs`); `option` names it. Nothing was added. */
export class InvalidEnqueueOptionError extends TasksError {
  constructor(
    message: string,
    readonly taskName: string,
    /** The option as written in `EnqueueOptions`: `jobId`, `deduplicate.key`, `delayMs`, … */
    readonly option: string,
  ) {
    super(message);
  }
}

/** `enqueue` with a `jobId` that names a job of another task on the same queue. Nothing was added. */
export class JobIdConflictError extends TasksError {
  constructor(
    message: string,
    /** The task being enqueued. */
    readonly taskName: string,
    readonly jobId: string,
    /** The task whose job has that id. */
    readonly takenBy: string,
  ) {
    super(message);
  }
}

/** `waitResult()` stopped waiting because its app is shutting down; the job itself is unaffected. */
export class TaskWaitAbortedError extends TasksError {
  constructor(
    message: string,
    readonly taskName: string,
    readonly jobId: string,
  ) {
    super(message);
  }
}
