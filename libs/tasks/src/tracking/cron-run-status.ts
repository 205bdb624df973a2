/** Lifecycle of one cron run (one row of `cron_job_runs`). */
export enum CronRunStatus {
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  /** A run of the job was still going (overlap policy `skip`); this tick did not execute. `reason` says which. */
  SKIPPED = 'SKIPPED',
  /** The tick was not run because of the cron's catch-up policy, or a newer tick superseded it. `reason` says which. */
  MISSED = 'MISSED',
}

/** How the run came about. */
export type CronRunTrigger = 'schedule' | 'manual';
