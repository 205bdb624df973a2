// nestjs-tasks/testing: internals that the library's own test suite and
// benchmark drive directly. Not part of the supported API: names and
// signatures may change in any release.
export { TaskWorkerHost } from './worker/task-worker.host.js';
export { CronSchedulerLease } from './lock/scheduler-lease.js';
export { CronSchedule } from './cron/cron-schedule.js';
export { getCronMetadata } from './cron/cron-metadata.accessor.js';
export { CronMaintenance, LOST_RUN_SWEEP_SECONDS } from './cron/cron-maintenance.js';
export { CronRunPipeline } from './worker/cron-run-pipeline.js';
export { DEFAULT_TASKS_OPTIONS } from './options/resolve-tasks-options.js';
export { toBullBackoff, toKeepJobs } from './options/bullmq-options.js';
export { bullmqConnection } from './redis/redis-connections.js';
export { parseRedisUrl } from './redaction/connection-url.js';
export { TASKS_OPTIONS } from './options/tasks.constants.js';
export { CronScheduler, type CronSchedulerStats } from './scheduler/cron-scheduler.js';
export { planCatchUp, missedReason, SUPERSEDE_AFTER_MS } from './cron/catch-up-policy.js';
export { buildCronMetadata } from './cron/cron.decorator.js';
export { CronRunStore } from './tracking/cron-run.store.js';
export { PostgresScheduleStore } from './tracking/postgres-schedule.store.js';
export { CronCatalog } from './cron/cron.catalog.js';
export { RedisScheduleStore } from './tracking/redis-schedule.store.js';
export { ScheduleStoreSelector } from './cron/schedule-store.selector.js';
