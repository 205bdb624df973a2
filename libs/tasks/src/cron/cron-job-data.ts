import type { CronRunTrigger } from '../tracking/cron-run-status.js';

/** Payload of a job on the cron queue. */
export interface CronJobData {
  name: string;
  /** The tick, epoch ms. */
  scheduledAt: number;
  trigger: CronRunTrigger;
}

/** What a cron job's BullMQ job resolves with. */
export interface CronRunOutcome {
  /** COMPLETED, or SKIPPED (lock held), or DUPLICATE (this tick already had a run). */
  status: 'COMPLETED' | 'SKIPPED' | 'DUPLICATE';
  runId?: number;
  result?: unknown;
}

/** Job id of a tick: every scheduler replica derives the same one, so a tick is enqueued once. */
export function cronTickJobId(name: string, tickMs: number): string {
  return `${name}@${tickMs}`;
}
