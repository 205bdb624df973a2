import type { JobsOptions } from 'bullmq';
import type { CronRunTrigger } from '../tracking/cron-run-status.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { toBullBackoff, toKeepJobs } from '../options/bullmq-options.js';
import type { RegisteredCron } from './cron.catalog.js';

/** Payload of a job on the cron queue. */
export interface CronJobData {
  name: string;
  /** The tick, epoch ms. */
  scheduledAt: number;
  trigger: CronRunTrigger;
  /** Set on a job handed back at shutdown after its run started: it resumes that run, so catch-up does not apply. */
  resumed?: boolean;
}

/** How one cron job (one tick or trigger) ended, as its BullMQ job resolves. A run that failed rejects instead. */
export type CronRunOutcome =
  /** The handler ran and returned `result`; `runId` and `fencingToken` are its row's (absent for `track: false`). */
  | { status: 'COMPLETED'; runId?: number; fencingToken?: number; result: unknown }
  /** A run of the job was still going: this tick did not run (recorded SKIPPED with `reason`). */
  | { status: 'SKIPPED'; reason: string }
  /** The catch-up policy did not let this tick run (recorded MISSED with `reason`). */
  | { status: 'MISSED'; reason: string }
  /** The cron is paused: this scheduled tick did not run and has no row. */
  | { status: 'PAUSED' }
  /** This tick already had a row (another replica's run, an earlier attempt, a MISSED record): not run again. */
  | { status: 'DUPLICATE' };

/** Job id of a tick: every scheduler replica derives the same one, so a tick is enqueued once. */
export function cronTickJobId(name: string, tickMs: number): string {
  return `${name}@${tickMs}`;
}

/** Options of a cron run's job; finished ones are kept an hour so a late replica's add of the same tick stays a no-op. */
export function cronJobOptions(cron: RegisteredCron, jobId: string, options: ResolvedTasksOptions): JobsOptions {
  return {
    jobId,
    attempts: cron.attempts,
    backoff: toBullBackoff(options.defaultBackoff),
    removeOnComplete: { age: 3_600, count: 100_000 },
    removeOnFail: toKeepJobs(options.keepFailed),
  };
}
