// The option ↔ environment variable table, apart from the reading of the
// environment, so the options' types can name it without importing the reader.

/** The environment variable behind each option that has one. */
export const TASKS_ENV_VARIABLES = {
  redisUrl: 'REDIS_URL',
  prefix: 'TASKS_PREFIX',
  concurrency: 'WORKER_CONCURRENCY',
  cronConcurrency: 'CRON_CONCURRENCY',
  cronCatchUpMs: 'TASKS_CRON_CATCH_UP_MS',
  cronSweepIntervalMs: 'TASKS_CRON_SWEEP_MS',
  schedulerLeaseTtlMs: 'TASKS_SCHEDULER_LEASE_TTL_MS',
  schedulerLeaseRenewMs: 'TASKS_SCHEDULER_LEASE_RENEW_MS',
  healthPort: 'TASKS_HEALTH_PORT',
  healthHost: 'TASKS_HEALTH_HOST',
  healthMaxPollAgeMs: 'TASKS_HEALTH_MAX_POLL_AGE_MS',
  metrics: 'TASKS_METRICS',
  shutdownGraceMs: 'TASKS_SHUTDOWN_GRACE_MS',
  stalledTimeoutMs: 'TASKS_STALLED_TIMEOUT_MS',
  cronRunRetentionDays: 'TASKS_CRON_RETENTION_DAYS',
  redisTls: 'REDIS_TLS_CA_FILE',
} as const satisfies Readonly<Record<string, string>>;

/** An option that `tasksOptionsFromEnv()` can read from an environment variable. */
export type EnvOption = keyof typeof TASKS_ENV_VARIABLES;

/**
 * Where the options came from: for each option `tasksOptionsFromEnv()`
 * supplied, the environment variable it was read from. Messages name that
 * variable, which is what the user set; any other option by its name.
 */
export type OptionSources = Readonly<Partial<Record<EnvOption, string>>>;
