import type { CronRunTrigger } from '../tracking/cron-run-status.js';

/** What a cron handler gets as its only argument. */
export interface CronContext {
  readonly jobName: string;
  /**
   * Id of this run's row in cron_job_runs. It grows with every run of the job,
   * so a handler can pass it as a fencing token to a resource that checks it.
   */
  readonly runId: number;
  /** The tick this run belongs to (for a manual trigger, when it was triggered). */
  readonly scheduledAt: Date;
  readonly trigger: CronRunTrigger;
  /** 1 unless the cron allows retries and this is one. */
  readonly attempt: number;
  /** Aborts when the run loses its lock or the worker shuts down past its grace period. */
  readonly signal: AbortSignal;
}
