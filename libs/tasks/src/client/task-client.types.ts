import type { TaskContext } from '../task/task-context.interface.js';

/** A class whose instances have task methods (used for the typed `enqueue` overload). */
export type TaskClass<T> = abstract new (...args: never[]) => T;

/** Method names of `T` that take a payload (and optionally a `TaskContext`). */
export type TaskMethodName<T> = {
  [K in keyof T & string]: T[K] extends (payload: never, context: TaskContext) => unknown ? K : never;
}[keyof T & string];

/** The payload type a task method takes: its first parameter. */
export type TaskPayload<T, K extends keyof T> = T[K] extends (payload: infer P, ...rest: never[]) => unknown
  ? P
  : never;

/** The result a task method resolves with. */
export type TaskResult<T, K extends keyof T> = T[K] extends (...args: never[]) => infer R ? Awaited<R> : never;

/** Options of one `enqueue` call. */
export interface EnqueueOptions {
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
  /**
   * Idempotency key: enqueueing the same key again, while the first job is
   * still retained, returns the first job instead of adding a second one.
   */
  jobId?: string;
  /** 1 is the highest priority; jobs without one run before prioritized jobs (BullMQ semantics). */
  priority?: number;
  /**
   * This job's attempts, over the task's own. Without it, the worker that
   * runs the job retries it by that worker's `@Task()` settings (attempts,
   * backoff; else its `TasksModule` defaults), whichever app enqueued it.
   */
  attempts?: number;
  /**
   * At most one pending job per `key` (BullMQ deduplication): while one is
   * waiting or running (or, with `windowMs`, for that long after it was
   * added), enqueueing the same key again adds nothing and returns the handle
   * of that job. E.g. one `sendDigest` per user per 10 s:
   * `{ deduplicate: { key: \`digest-${userId}\`, windowMs: 10_000 } }`.
   */
  deduplicate?: { key: string; windowMs?: number };
  /**
   * The queue, for a task this process does not know (a producer with
   * `allowUnregisteredTasks`); a known task always goes to its own queue.
   */
  queue?: string;
}

/** Options of `handle.waitResult()`. */
export interface WaitResultOptions {
  /** Reject with `TaskWaitTimeoutError` after this many ms. Default: wait as long as it takes. */
  timeoutMs?: number;
}

/** What `enqueue` returns: the job's id and a way to wait for its result. */
export interface TaskHandle<R> {
  readonly id: string;
  readonly name: string;
  /**
   * Cancels the job: a waiting or delayed one is removed (`'removed'`); a
   * running one has its `ctx.signal` aborted on whichever worker runs it and
   * fails without retries once its handler gives up (`'signalled'`; a handler
   * that ignores its signal finishes normally); `'finished'` when too late.
   * `waitResult` then rejects with `TaskCancelledError`.
   */
  cancel(): Promise<'removed' | 'signalled' | 'finished'>;
  /**
   * Calls `listener` with each progress the handler reports
   * (`ctx.updateProgress`) from now on, on whichever worker runs it; returns
   * a function that stops listening. Listening ends by itself when the job
   * finishes for good.
   */
  onProgress(listener: (progress: number | object) => void): () => void;
  /**
   * Resolves with the handler's return value; rejects with `TaskFailedError`
   * once the task has failed for good, `TaskWaitTimeoutError` after `timeoutMs`,
   * `TaskCancelledError` when it was cancelled, `TaskNotFoundError` when the job
   * is gone, and `TaskWaitAbortedError` when the app shuts down meanwhile.
   */
  waitResult(options?: WaitResultOptions): Promise<R>;
}

/** Where a job stands (BullMQ's states), as `TaskClient.getJob()` reports it in `state`. */
export type TaskJobState =
  | 'waiting'
  | 'delayed'
  | 'prioritized'
  | 'active'
  | 'completed'
  | 'failed'
  | 'waiting-children'
  | 'unknown';

/** A job as `TaskClient.getJob()` reports it. */
export interface TaskJobInfo {
  id: string;
  name: string;
  state: TaskJobState;
  /** Runs so far that ended (failed attempts, or the one that completed). */
  attemptsMade: number;
  progress: unknown;
  result?: unknown;
  error?: string;
  enqueuedAt: Date;
  finishedAt?: Date;
}
