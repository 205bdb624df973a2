import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { OptionSources } from './env-variables.js';

/** TLS settings of the Redis connections. */
export type RedisTlsOptions = Pick<TlsConnectionOptions, 'ca' | 'cert' | 'key' | 'passphrase' | 'servername' | 'rejectUnauthorized' | 'minVersion'>;

/** How long finished jobs, and so their results and idempotency keys, are kept in Redis. */
export interface RetentionOptions {
  /** Seconds after finishing. */
  ageSeconds: number;
  /** At most this many jobs; the oldest go first. */
  count: number;
}

/** Backoff between attempts: exponential is `delayMs * 2^(attempt-1)`, fixed is `delayMs` each time. */
export interface BackoffOptions {
  type: 'exponential' | 'fixed';
  delayMs: number;
}

/** At most `max` jobs of a queue start per `durationMs`, across all its workers (BullMQ's limiter). */
export interface QueueRateLimit {
  max: number;
  durationMs: number;
}

/** Settings of one task queue, for every worker that consumes it. */
export interface TaskQueueOptions {
  /** Jobs of this queue one worker process runs at once. Default `concurrency`. */
  concurrency?: number;
  /** Rate limit of the queue, e.g. `{ max: 10, durationMs: 1000 }` for a throttled API. Default none. */
  rateLimit?: QueueRateLimit;
}

/**
 * Options of `TasksModule.forRoot()` / `forRootAsync()`. Every field is
 * optional and has a default that works on a laptop. The module reads no
 * environment variable itself: `tasksOptionsFromEnv()` maps the documented
 * ones (REDIS_URL, TASKS_PREFIX, ...) to these options.
 */
export interface TasksModuleOptions {
  /** Redis connection URL (`redis://`, `rediss://` for TLS). Default `redis://127.0.0.1:6379`. */
  redisUrl?: string;
  /**
   * TLS options of the Redis connections (Node's `tls.connect` options), e.g.
   * `{ ca: readFileSync('ca.pem') }` for a server whose certificate a private CA
   * signed. Setting it turns TLS on, as `rediss://` does. Default: none.
   */
  redisTls?: RedisTlsOptions;
  /** Namespace of every Redis key, so deployments or test runs can share one Redis. Default `tasks`. */
  prefix?: string;
  /** Task jobs one worker process runs at once, per queue it consumes (unless the queue sets its own). Default 10. */
  concurrency?: number;
  /**
   * Per-queue settings, by the queue names of `@Task({ queue })`:
   * `{ reports: { concurrency: 2 }, mail: { rateLimit: { max: 10, durationMs: 1000 } } }`.
   */
  queues?: Readonly<Record<string, TaskQueueOptions>>;
  /** Cron runs one worker process runs at once, on top of `concurrency` (a `bufferOne` tick waiting counts). Default 5. */
  cronConcurrency?: number;
  /** Let `enqueue` accept task names no module in this process registered (producers without the worker code). Default false. */
  allowUnregisteredTasks?: boolean;
  /** After SIGTERM, how long running jobs may finish before they are handed back to the queue. Default 25000. */
  shutdownGraceMs?: number;
  /** How soon a job whose worker died (SIGKILL, lost node) runs again elsewhere. Default 30000. */
  stalledTimeoutMs?: number;
  /** Attempts of a task that does not set its own, in the worker that runs it (a producer's are not used). Default 3. */
  defaultAttempts?: number;
  /**
   * Backoff of a task that does not set its own, in the worker that runs it
   * (a producer's is not used), and of cron runs' retries, in the scheduler.
   * Default exponential from 1000 ms.
   */
  defaultBackoff?: BackoffOptions;
  /** Retention of completed jobs, applied by the worker when a job finishes. Default 1 hour or 10000 jobs. */
  keepCompleted?: RetentionOptions;
  /** Retention of failed jobs, applied by the worker when a job finishes. Default 7 days or 10000 jobs. */
  keepFailed?: RetentionOptions;
  /** Days cron_job_runs rows are kept before the built-in prune cron deletes them. Default 30. */
  cronRunRetentionDays?: number;
  /**
   * The grace window of `catchUp: 'skip'` (the default): a tick at most this
   * many ms old still runs (once, whatever the number of replicas), so a
   * restart does not drop the tick in progress. Older missed ticks are
   * recorded MISSED. Default 10000.
   */
  cronCatchUpMs?: number;
  /** How often the lost-run sweep looks for RUNNING rows whose worker went silent: whole seconds that divide a minute. Default 5000. */
  cronSweepIntervalMs?: number;
  /** Rows the retention prune deletes per statement; it goes on in batches until done. Default 5000. */
  cronPruneBatchSize?: number;
  /** How long the scheduler lease lives without renewal (a dead leader's ticks go to the backups after it). Default 10000. */
  schedulerLeaseTtlMs?: number;
  /** How often schedulers renew or try to take the lease; below `schedulerLeaseTtlMs`. Default 2000. */
  schedulerLeaseRenewMs?: number;
  /**
   * Port of the worker's and scheduler's health probes (`GET /health/live`,
   * `GET /health/ready`, `GET /metrics`), served by `runWorker` /
   * `runScheduler` on `healthHost` (loopback by default). Default 0: off.
   */
  healthPort?: number;
  /**
   * The worker's readiness fails when its consumers, with a slot free, last
   * polled Redis longer ago than this (an idle worker polls every 5 to 10 s). Default 30000.
   */
  healthMaxPollAgeMs?: number;
  /**
   * Address the health port listens on (`TASKS_HEALTH_HOST`). Default
   * `127.0.0.1`: only this machine (or container) reaches it, which is
   * enough for a healthcheck run inside the container (Docker, Kamal). Set
   * `0.0.0.0` where the prober or Prometheus comes from outside (a
   * Kubernetes kubelet probes the pod's address), on a private network only:
   * the port has no authentication. Callers that are not on loopback get
   * each check's up/down and `/metrics`, never the details of readiness.
   */
  healthHost?: string;
  /**
   * Prometheus metrics through prom-client (an optional peer dependency).
   * Default: on when prom-client is installed; `true` fails the boot when it
   * is not, `false` turns them off.
   */
  metrics?: boolean;
  /**
   * A prom-client `Registry` to register the library's metrics in, e.g.
   * prom-client's global `register`, so one `/metrics` of the app's own shows
   * them. Default: a registry of the library's own (`TasksMetrics.metrics()`).
   */
  metricsRegistry?: MetricsRegistry;
  /** Largest payload `enqueue` accepts, in bytes of its JSON; larger ones are rejected with `InvalidPayloadError`. Default 1048576 (1 MiB). */
  maxPayloadBytes?: number;
  /** Largest result a task may return, in bytes of its JSON; a larger one fails the job without retries. Default 1048576 (1 MiB). */
  maxResultBytes?: number;
}

/** A prom-client `Registry` (the part the library uses), so the options do not depend on prom-client's types. */
export interface MetricsRegistry {
  getSingleMetric(name: string): unknown;
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** The options with every default filled in, as the library's providers see them. */
export type ResolvedTasksOptions = Readonly<
  Required<Omit<TasksModuleOptions, 'redisTls' | 'metrics' | 'metricsRegistry'>> &
    Pick<TasksModuleOptions, 'redisTls' | 'metricsRegistry'> & {
      metrics: boolean | undefined;
      /** The environment variable behind each option `tasksOptionsFromEnv()` supplied, so messages name what the user set. */
      sources: OptionSources;
    }
>;
