import type { CronRunTrigger } from '../tracking/cron-run-status.js';
import type { JobAbort } from '../task/job-abort.js';

/** What a cron handler gets as its only argument. */
export interface CronContext {
  readonly jobName: string;
  /** Id of this run's row in cron_job_runs, the same for every attempt of the tick (0 for `track: false`). */
  readonly runId: number;
  /**
   * Fencing token of this attempt: fresh and larger than every token handed
   * out before it, for any run. Pass it with the handler's own writes and
   * have the resource refuse a token lower than the last it saw: a run that
   * was frozen past its liveness bound and resumed after a newer run started
   * is then refused instead of overwriting the newer run's work. 0 for `track: false`.
   */
  readonly fencingToken: number;
  /** The tick this run belongs to (for a manual trigger, when it was triggered). */
  readonly scheduledAt: Date;
  readonly trigger: CronRunTrigger;
  /** 1 unless the cron allows retries and this is one. */
  readonly attempt: number;
  /**
   * Aborts when the run's lock expired unextended (`CronLockLostError`), its
   * row was marked lost (`CronRunLostError`), or the worker shuts down past
   * its grace period (`WorkerShutdownAbort`); `signal.reason` says which.
   */
  readonly signal: AbortSignal;
}

/** The CronContext of one run: built once the run holds its lock and has its row, and never changed after. */
export class CronRunContext implements CronContext {
  constructor(
    readonly jobName: string,
    readonly runId: number,
    readonly fencingToken: number,
    readonly scheduledAt: Date,
    readonly trigger: CronRunTrigger,
    readonly attempt: number,
    private readonly abort: JobAbort,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }
}
