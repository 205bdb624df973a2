import { TASK_METADATA } from '../options/tasks.constants.js';
import type { BackoffOptions } from '../options/tasks-options.interface.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { invalidTaskOption } from '../errors/tasks.messages.js';
import { DEFAULT_TASK_QUEUE, queueNameProblem } from '../options/task-queue-names.js';

/** Options of `@Task()`. */
export interface TaskOptions {
  /** Wire name of the task; defaults to the method name. Must be unique in the application. */
  name?: string;
  /**
   * Total runs before the task fails for good. Default 3 (`TasksModule`
   * `defaultAttempts`). Retries follow the settings of the worker that runs
   * the job, whichever app enqueued it.
   */
  attempts?: number;
  /** Exponential backoff between attempts, starting at this many ms (then twice that, ...). */
  backoffMs?: number;
  /** Backoff between attempts in full: `{ type: 'exponential' | 'fixed', delayMs }`. Not with `backoffMs`. */
  backoff?: BackoffOptions;
  /** Abort the run after this many ms; the attempt fails with `TaskTimeoutError`. */
  timeoutMs?: number;
  /**
   * The queue the task's jobs go to (`enqueue` routes them there), so that a
   * pool of workers can consume only it (`runWorker(AppModule, { queues })`).
   * Lowercase letters, digits and "-". Default `default`.
   */
  queue?: string;
}

export interface TaskMetadata {
  name: string;
  queue: string;
  attempts?: number;
  backoff?: BackoffOptions;
  timeoutMs?: number;
}

/**
 * Marks a provider method as a background task. The method receives the
 * payload and a `TaskContext`; its return value is the task's result.
 */
export function Task(options: TaskOptions = {}): MethodDecorator {
  return (target, key, descriptor) => {
    const where = `@Task() on ${target.constructor.name}.${String(key)}`;
    const metadata: TaskMetadata = {
      name: options.name ?? String(key),
      queue: options.queue ?? DEFAULT_TASK_QUEUE,
      attempts: options.attempts,
      backoff: normalizeBackoff(where, options),
      timeoutMs: options.timeoutMs,
    };
    assertTaskOptions(where, metadata);
    Reflect.defineMetadata(TASK_METADATA, metadata, descriptor.value as object);
    return descriptor;
  };
}

function normalizeBackoff(where: string, { backoff, backoffMs }: TaskOptions): BackoffOptions | undefined {
  if (backoff !== undefined && backoffMs !== undefined) {
    throw new TasksConfigurationError(invalidTaskOption(where, 'backoffMs', backoffMs, 'either backoffMs or backoff, not both'));
  }
  if (backoffMs !== undefined) {
    if (!Number.isInteger(backoffMs) || backoffMs < 0) {
      throw new TasksConfigurationError(invalidTaskOption(where, 'backoffMs', backoffMs, 'a non-negative integer of ms'));
    }
    return { type: 'exponential', delayMs: backoffMs };
  }
  if (backoff === undefined) return undefined;
  if (typeof backoff !== 'object' || (backoff.type !== 'exponential' && backoff.type !== 'fixed')) {
    throw new TasksConfigurationError(invalidTaskOption(where, 'backoff', JSON.stringify(backoff), "{ type: 'exponential' | 'fixed', delayMs }"));
  }
  if (!Number.isInteger(backoff.delayMs) || backoff.delayMs < 0) {
    throw new TasksConfigurationError(invalidTaskOption(where, 'backoff.delayMs', backoff.delayMs, 'a non-negative integer of ms'));
  }
  return backoff;
}

function assertTaskOptions(where: string, m: TaskMetadata): void {
  if (typeof m.name !== 'string' || m.name.trim() === '') {
    throw new TasksConfigurationError(invalidTaskOption(where, 'name', m.name, 'a non-empty string'));
  }
  const queueProblem = queueNameProblem(m.queue);
  if (queueProblem) throw new TasksConfigurationError(`${where}: option "queue": ${queueProblem}.`);
  if (m.attempts !== undefined && (!Number.isInteger(m.attempts) || m.attempts < 1)) {
    throw new TasksConfigurationError(invalidTaskOption(where, 'attempts', m.attempts, 'a positive integer'));
  }
  if (m.timeoutMs !== undefined && (!Number.isInteger(m.timeoutMs) || m.timeoutMs < 1)) {
    throw new TasksConfigurationError(invalidTaskOption(where, 'timeoutMs', m.timeoutMs, 'a positive integer of ms'));
  }
}
