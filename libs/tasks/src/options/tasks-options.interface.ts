import type { ModuleMetadata, InjectionToken, OptionalFactoryDependency } from '@nestjs/common';

/** How long finished jobs, and so their results and idempotency keys, are kept in Redis. */
export interface RetentionOptions {
  /** Seconds after finishing. */
  ageSeconds: number;
  /** At most this many jobs; the oldest go first. */
  count: number;
}

/** Exponential backoff between attempts: `delayMs * 2^(attempt-1)`. */
export interface BackoffOptions {
  type: 'exponential' | 'fixed';
  delayMs: number;
}

/**
 * Options of `TasksModule.forRoot()`. Every field is optional; unset fields
 * come from the environment, then from defaults that work on a laptop.
 */
export interface TasksModuleOptions {
  /** Redis connection URL. Env `REDIS_URL`, default `redis://127.0.0.1:6379`. */
  redisUrl?: string;
  /** Namespace of every Redis key, so deployments or test runs can share one Redis. Env `TASKS_PREFIX`, default `tasks`. */
  prefix?: string;
  /** Jobs one worker process runs at once. Env `WORKER_CONCURRENCY`, default 10. */
  concurrency?: number;
  /** Let `enqueue` accept task names no module in this process registered (producers without the worker code). Default false. */
  allowUnregisteredTasks?: boolean;
  /** After SIGTERM, how long running jobs may finish before they are handed back to the queue. Env `TASKS_SHUTDOWN_GRACE_MS`, default 25000. */
  shutdownGraceMs?: number;
  /** How soon a job whose worker died (SIGKILL, lost node) runs again elsewhere. Env `TASKS_STALLED_TIMEOUT_MS`, default 30000. */
  stalledTimeoutMs?: number;
  /** Attempts of a task that does not set its own. Default 3. */
  defaultAttempts?: number;
  /** Backoff of a task that does not set its own. Default exponential from 1000 ms. */
  defaultBackoff?: BackoffOptions;
  /** Retention of completed jobs, applied by the worker when a job finishes. Default 1 hour or 10000 jobs. */
  keepCompleted?: RetentionOptions;
  /** Retention of failed jobs, applied by the worker when a job finishes. Default 7 days or 10000 jobs. */
  keepFailed?: RetentionOptions;
  /** Days cron_job_runs rows are kept before the built-in prune cron deletes them. Env `TASKS_CRON_RETENTION_DAYS`, default 30. */
  cronRunRetentionDays?: number;
  /**
   * A scheduler that starts within this many ms after a tick still fires it
   * (once, whatever the number of replicas), so a restart does not drop the
   * tick in progress. Older missed ticks are not replayed. Default 10000.
   */
  cronCatchUpMs?: number;
}

export type ResolvedTasksOptions = Required<TasksModuleOptions>;

/** `TasksModule.forRootAsync()`: options computed by a factory, e.g. from `ConfigService`. */
export interface TasksModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: never[]) => TasksModuleOptions | Promise<TasksModuleOptions>;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
}
