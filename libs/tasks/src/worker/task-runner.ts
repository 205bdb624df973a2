import { Injectable, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { UnrecoverableError, type Job } from 'bullmq';
import type { RegisteredTask } from '../registry/task.registry.js';
import type { TaskContext } from '../context/task-context.interface.js';
import { NonRetriableError, TaskTimeoutError, TasksConfigurationError } from '../errors/tasks.errors.js';
import { loggerModuleMissing, taskTimedOut } from '../tasks.messages.js';

export interface TaskRun {
  readonly task: RegisteredTask;
  readonly job: Job;
  /** Aborted on timeout or when shutdown hands the job back. */
  readonly controller: AbortController;
}

/**
 * Calls one task handler: builds its context, applies its timeout, and wraps
 * the call in a logging context so every line logged during the run, by the
 * library or by the user's injected PinoLogger, carries task, jobId and attempt.
 */
@Injectable()
export class TaskRunner {
  constructor(@Optional() private readonly logger?: PinoLogger) {
    if (!logger) throw new TasksConfigurationError(loggerModuleMissing());
    logger.setContext('Tasks');
  }

  run({ task, job, controller }: TaskRun): Promise<unknown> {
    const attempt = job.attemptsMade + 1;
    const bindings = { task: task.name, jobId: job.id, attempt };
    return this.log.runInContext(() => this.invoke(task, job, controller, attempt), { bindings });
  }

  private get log(): PinoLogger {
    return this.logger as PinoLogger;
  }

  private async invoke(task: RegisteredTask, job: Job, controller: AbortController, attempt: number): Promise<unknown> {
    const maxAttempts = job.opts.attempts ?? 1;
    const context: TaskContext = {
      jobId: job.id as string,
      taskName: task.name,
      attempt,
      maxAttempts,
      enqueuedAt: new Date(job.timestamp),
      // Created on first read: an AbortSignal costs about 5 µs (Node 20), a
      // measurable share of a no-op job, and most handlers never look at it.
      get signal() {
        return controller.signal;
      },
      updateProgress: (progress) => job.updateProgress(progress),
    };
    const started = performance.now();
    this.log.info({ event: 'task.started' }, `Task ${task.name} started (attempt ${attempt}/${maxAttempts})`);
    try {
      const result = await this.withTimeout(task, controller, () => task.handler(job.data, context));
      const durationMs = Math.round(performance.now() - started);
      this.log.info({ event: 'task.completed', durationMs }, `Task ${task.name} completed in ${durationMs} ms`);
      return result;
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      // Aborted by shutdown (not by its timeout): the job goes back to the queue, it did not fail.
      const { signal } = controller;
      if (signal.aborted && !(signal.reason instanceof TaskTimeoutError)) {
        const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
        this.log.warn({ event: 'task.interrupted', durationMs }, `Task ${task.name} interrupted after ${durationMs} ms: ${reason}`);
        throw error;
      }
      const final = attempt >= maxAttempts || error instanceof NonRetriableError;
      this.log.error(
        { event: 'task.failed', durationMs, willRetry: !final, err: error },
        `Task ${task.name} failed after ${durationMs} ms${final ? '' : `; it will retry`}`,
      );
      if (error instanceof NonRetriableError) {
        const unrecoverable = new UnrecoverableError(error.message);
        unrecoverable.stack = error.stack;
        throw unrecoverable;
      }
      throw error;
    }
  }

  private async withTimeout(
    task: RegisteredTask,
    controller: AbortController,
    call: () => unknown,
  ): Promise<unknown> {
    if (task.timeoutMs === undefined) return await call();
    const timeoutMs = task.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TaskTimeoutError(taskTimedOut(task.name, timeoutMs));
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(call), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}
