/** Lifecycle of one cron run (one row of `cron_job_runs`). */
export enum CronRunStatus {
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  /** The lock was held by an earlier run still going; this tick did not execute. */
  SKIPPED = 'SKIPPED',
}

/** How the run came about. */
export type CronRunTrigger = 'schedule' | 'manual';
