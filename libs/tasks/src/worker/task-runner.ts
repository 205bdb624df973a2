import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { Logger } from 'pino';
import { UnrecoverableError, type BackoffStrategy, type Job } from 'bullmq';
import { TaskCatalog, type RegisteredTask } from '../task/task.catalog.js';
import { TASK_BACKOFF, taskAttempt, taskRetryDelay, type TaskAttempt } from '../task/task-attempts.js';
import { TaskRunContext } from '../task/task-run-context.js';
import { NonRetriableError, TaskTimeoutError } from '../errors/tasks.errors.js';
import { resultProblem } from '../task/assert-json-payload.js';
import { invalidResult, taskTimedOut } from '../errors/tasks.messages.js';
import { JobCancelledAbort, type JobAbort } from '../task/job-abort.js';
import { CANCELLED_REASON } from '../queues/job-cancellation.js';
import { RunLogContext } from '../observability/run-log-context.js';
import { escapeLogText } from '../redaction/escape-log-text.js';
import { publicJobId } from '../task/job-ids.js';
import { TasksEvents } from '../events/tasks-events.js';
import { errorType, type TaskAttemptFields } from '../events/lifecycle-events.js';
import type { Span } from '@opentelemetry/api';
import { TASKS_ATTRIBUTES, endWithError, startProcessSpan, withSpan } from '../observability/task-tracing.js';

/** The `context` field of the task lines: the class's name, as a Nest Logger of it would set (the lines go to pino directly). */
const LOG_CONTEXT = 'TaskRunner';

export interface TaskRun {
  readonly task: RegisteredTask;
  readonly job: Job;
  /** Aborted on timeout or when shutdown hands the job back. */
  readonly abort: JobAbort;
}

/**
 * Calls one task handler: builds its context, applies its timeout, and wraps
 * the call in a logging context so every line logged during the run, by the
 * library or by the user's injected PinoLogger, carries task, jobId and attempt,
 * and in the attempt's span. The attempt's start and end are lifecycle events
 * (metrics count them).
 */
@Injectable()
export class TaskRunner {
  constructor(
    private readonly logContext: RunLogContext,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly events: TasksEvents,
    private readonly catalog: TaskCatalog,
  ) {}

  /**
   * The task queues' workers' `settings.backoffStrategy`: the delay before a
   * library job's next attempt by this worker's settings of its task, or -1
   * (no retry) once its round of attempts is over. Never throws: BullMQ
   * would leave the job active until it stalls.
   */
  readonly backoffStrategy: BackoffStrategy = (attemptsMade, type, _error, job) => {
    if (type !== TASK_BACKOFF || !job) return -1;
    return taskRetryDelay(job, attemptsMade, this.catalog.get(job.name) ?? {}, this.options);
  };

  run({ task, job, abort }: TaskRun): Promise<unknown> {
    const attempt = taskAttempt(job, task, this.options);
    const jobId = publicJobId(job.id as string, job.queueName);
    // A chosen job id (an idempotency key) may come from the app's users.
    const bindings = { task: task.name, jobId: escapeLogText(jobId), attempt: attempt.attempt };
    const { span, context } = startProcessSpan(job, () => ({
      [TASKS_ATTRIBUTES.task]: task.name,
      [TASKS_ATTRIBUTES.attempt]: attempt.attempt,
      [TASKS_ATTRIBUTES.maxAttempts]: attempt.maxAttempts,
    }));
    const fields: TaskAttemptFields = { task: task.name, queue: job.queueName, jobId, attempt: attempt.attempt, maxAttempts: attempt.maxAttempts };
    return withSpan(context, () => this.logContext.run(bindings, () => this.invoke(task, job, abort, attempt, span, fields)));
  }

  /** The run's pino logger (the context's child, with task, jobId and attempt). */
  private get log(): Logger {
    return this.logContext.logger;
  }

  private async invoke(
    task: RegisteredTask,
    job: Job,
    abort: JobAbort,
    { attempt, maxAttempts, manualRetry }: TaskAttempt,
    span: Span,
    fields: TaskAttemptFields,
  ): Promise<unknown> {
    const context = new TaskRunContext(job, task.name, attempt, maxAttempts, abort);
    const started = performance.now();
    this.events.emit('task.started', { ...fields, manualRetry });
    // Every job writes these two lines: at a level that drops them, their texts are not even built.
    const lines = this.log.isLevelEnabled('info');
    if (lines) this.logStarted(task.name, job, attempt, maxAttempts, manualRetry);
    try {
      const result =
        task.timeoutMs === undefined
          ? await task.handler(job.data, context)
          : await this.withTimeout(task, task.timeoutMs, abort, () => task.handler(job.data, context));
      const problem = resultProblem(result, this.options.maxResultBytes);
      if (problem) throw new NonRetriableError(invalidResult(task.name, problem.what));
      const elapsed = performance.now() - started;
      this.events.emit('task.finished', { ...fields, durationMs: elapsed, status: 'completed' });
      if (lines) {
        const durationMs = Math.round(elapsed);
        this.log.info({ context: LOG_CONTEXT, event: 'task.completed', durationMs }, `Task ${task.name} completed in ${durationMs} ms`);
      }
      span.setAttribute(TASKS_ATTRIBUTES.outcome, 'completed');
      span.end();
      return result;
    } catch (error) {
      const elapsed = performance.now() - started;
      const durationMs = Math.round(elapsed);
      if (abort.reason instanceof JobCancelledAbort) {
        this.events.emit('task.finished', { ...fields, durationMs: elapsed, status: 'failed', reason: 'cancelled', errorType: errorType(abort.reason) });
        this.log.warn({ context: LOG_CONTEXT, event: 'task.cancelled', durationMs }, `Task ${task.name} cancelled after ${durationMs} ms`);
        endWithError(span, abort.reason, { [TASKS_ATTRIBUTES.outcome]: 'cancelled' });
        throw new UnrecoverableError(CANCELLED_REASON);
      }
      // Aborted by shutdown (not by its timeout): the job goes back to the queue, it did not fail.
      if (abort.aborted && !(abort.reason instanceof TaskTimeoutError)) {
        const reason = abort.reason instanceof Error ? abort.reason.message : String(abort.reason);
        this.log.warn(
          { context: LOG_CONTEXT, event: 'task.interrupted', durationMs },
          `Task ${task.name} interrupted after ${durationMs} ms: ${reason}`,
        );
        endWithError(span, abort.reason, { [TASKS_ATTRIBUTES.outcome]: 'interrupted' });
        throw error;
      }
      const final = attempt >= maxAttempts || error instanceof NonRetriableError;
      if (final) {
        const reason = error instanceof NonRetriableError ? 'not-retriable' : 'attempts-exhausted';
        this.events.emit('task.finished', { ...fields, durationMs: elapsed, status: 'failed', reason, errorType: errorType(error) });
      } else {
        this.events.emit('task.retried', { ...fields, durationMs: elapsed, errorType: errorType(error) });
      }
      endWithError(span, error, { [TASKS_ATTRIBUTES.outcome]: final ? 'failed' : 'retried' });
      this.log.error(
        { context: LOG_CONTEXT, event: 'task.failed', durationMs, willRetry: !final, err: error },
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

  private logStarted(task: string, job: Job, attempt: number, maxAttempts: number, manualRetry: boolean): void {
    if (manualRetry) {
      this.log.info(
        { context: LOG_CONTEXT, event: 'task.started', manualRetry, attemptsMade: job.attemptsMade },
        `Task ${task} started (attempt ${attempt}/${maxAttempts}, manual retry)`,
      );
    } else {
      this.log.info({ context: LOG_CONTEXT, event: 'task.started' }, `Task ${task} started (attempt ${attempt}/${maxAttempts})`);
    }
  }

  private async withTimeout(task: RegisteredTask, timeoutMs: number, abort: JobAbort, call: () => unknown): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TaskTimeoutError(taskTimedOut(task.name, timeoutMs));
        abort.abort(error);
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
