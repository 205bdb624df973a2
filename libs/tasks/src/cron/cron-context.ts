import type { CronRunTrigger } from '../tracking/cron-run-status.js';
import type { JobAbort } from '../worker/job-abort.js';

/** What a cron handler gets as its only argument. */
export interface CronContext {
  readonly jobName: string;
  /**
   * Id of this run's row in cron_job_runs (0 for a cron with `track: false`).
   * It grows with every run of the job, so a handler can pass it as a fencing
   * token to a resource that checks it.
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

/** The CronContext of one run: built once the run holds its lock and has its row, and never changed after. */
export class CronRunContext implements CronContext {
  constructor(
    readonly jobName: string,
    readonly runId: number,
    readonly scheduledAt: Date,
    readonly trigger: CronRunTrigger,
    readonly attempt: number,
    private readonly abort: JobAbort,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }
}
