/** What a task handler gets as its second argument. */
export interface TaskContext {
  /** BullMQ job id; the idempotency key when one was given to `enqueue`. */
  readonly jobId: string;
  readonly taskName: string;
  /** 1 on the first run, 2 on the first retry, ... */
  readonly attempt: number;
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
