/** What a task handler gets as its second argument. */
export interface TaskContext {
  /** BullMQ job id; the idempotency key when one was given to `enqueue`. */
  readonly jobId: string;
  readonly taskName: string;
  /**
   * 1 on the first run, 2 on the first retry, ..., never above `maxAttempts`.
   * A manual retry (`job.retry()`, Bull Board's Retry) of a job that used all
   * its attempts starts a new round at 1; of one that failed earlier, it goes on from there.
   */
  readonly attempt: number;
  /** The task's attempts (`@Task({ attempts })` of the worker running it, or the job's `EnqueueOptions.attempts`). */
  readonly maxAttempts: number;
  /** When the producer enqueued the job. */
  readonly enqueuedAt: Date;
  /**
   * Aborts when the task's `timeoutMs` passes or when the worker shuts down and
   * the grace period is over. Pass it to fetch, database drivers, or check it in loops.
   */
  readonly signal: AbortSignal;
  /** Reports progress, visible through `TaskClient.getJob()`. */
  updateProgress(progress: number | Record<string, unknown>): Promise<void>;
}
