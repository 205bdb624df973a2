// Internals that this repository's tests, test fixtures and benchmark drive
// directly. Not in the package's "exports", so no application can import it:
// the workspace reaches it as '#nestjs-tasks-internal' (the root
// package.json's "imports"), which resolves to this file's build next to the
// public entries, so its classes are the very ones the public entries use.
export { TaskWorkerHost } from './worker/task-worker.host.js';
export { CronSchedulerLease } from './lock/scheduler-lease.js';
export { CronSchedule } from './cron/cron-schedule.js';
export { getCronMetadata } from './cron/cron-metadata.accessor.js';
export { CronMaintenance, LOST_RUN_SWEEP_SECONDS } from './cron/cron-maintenance.js';
export { CronRunPipeline } from './worker/cron-run-pipeline.js';
export { DEFAULT_TASKS_OPTIONS } from './options/resolve-tasks-options.js';
export type { ResolvedTasksOptions } from './options/tasks-options.interface.js';
export { TASKS_ENV_VARIABLES } from './options/tasks-options-from-env.js';
export { toBullBackoff, toKeepJobs } from './options/bullmq-options.js';
export { bullmqConnection } from './redis/redis-profiles.js';
export { parseRedisUrl } from './redaction/connection-url.js';
export { TASKS_OPTIONS, TASKS_QUEUE, CRON_QUEUE, TASKS_QUEUE_TOKEN, CRON_QUEUE_TOKEN } from './options/tasks.constants.js';
export { CronScheduler, type CronSchedulerStats } from './scheduler/cron-scheduler.js';
export { planCatchUp, missedReason, SUPERSEDE_AFTER_MS } from './cron/catch-up-policy.js';
export { buildCronMetadata } from './cron/cron.decorator.js';
export { CronRunStore, claimRowSql, finishRunSql } from './tracking/cron-run.store.js';
export { PostgresScheduleStore } from './tracking/postgres-schedule.store.js';
export { CronCatalog } from './cron/cron.catalog.js';
export { RedisScheduleStore } from './tracking/redis-schedule.store.js';
export { ScheduleStoreSelector } from './cron/schedule-store.selector.js';
export { OwnedKey, ownerToken } from './lock/owned-key.js';
export { CronLockService } from './lock/cron-lock.service.js';
// The cron side of the testing kit, driven directly by the kit-cron benchmark.
export { TasksClock, type ClockTimer } from './options/tasks-clock.js';
export { FakeClock, FAKE_CLOCK_START, DEFAULT_SETTLE_MS, type FakeTimerHandle } from './testing/fake-clock.js';
export { InMemoryCronLocks } from './testing/in-memory-cron-locks.js';
export { InMemoryCronRunStore, type CronRun } from './testing/in-memory-run-store.js';
export { InMemoryScheduleStore } from './testing/in-memory-schedule-store.js';
export { InMemoryCronRunsService } from './testing/in-memory-cron-runs.service.js';
export { KitCronRegistry } from './testing/kit-cron-registry.js';
export { CronTestDriver, KitCronQueue, type CronAttempt, type CronAttemptOutcome } from './testing/cron-test-driver.js';
export { cronTestingProviders, cronTestingExports } from './testing/cron-testing.providers.js';
export { TestingRunLogContext } from './testing/testing-run-log-context.js';
export { RunLogContext } from './observability/run-log-context.js';
export { scanMatching, unlinkMatching } from './redis/unlink-matching.js';
