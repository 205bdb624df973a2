import { Inject, Injectable, Logger } from '@nestjs/common';
import { CronLockService } from '../lock/cron-lock.service.js';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { EnvOption } from '../options/tasks-options-from-env.js';
import { CronRunStore, WORKER_LOST_CAUSE } from '../tracking/cron-run.store.js';
import { buildCronMetadata, type CronMetadata } from './cron.decorator.js';

/** The default sweep interval, in seconds (`cronSweepIntervalMs`). */
export const LOST_RUN_SWEEP_SECONDS = 5;

/**
 * The library's own crons, by name: the method of CronMaintenance that runs
 * each, what it is for and the option that tunes it. They run on their own
 * schedule: CronRegistry will not pause, resume or trigger them.
 */
export const MAINTENANCE_CRONS = {
  'tasks.sweepLostRuns': {
    method: 'sweepLostRuns',
    purpose: 'marks FAILED the runs whose worker died, so that their cron can run again',
    option: 'cronSweepIntervalMs',
  },
  'tasks.pruneCronRuns': {
    method: 'pruneCronRuns',
    purpose: 'deletes the rows of cron_job_runs older than the retention',
    option: 'cronRunRetentionDays',
  },
} as const satisfies Record<string, { method: keyof CronMaintenance; purpose: string; option: EnvOption }>;

export type MaintenanceCronName = keyof typeof MAINTENANCE_CRONS;

/** Whether `name` is one of the library's own crons. */
export function isMaintenanceCron(name: string): name is MaintenanceCronName {
  return Object.hasOwn(MAINTENANCE_CRONS, name);
}

/** One of the library's own crons: the method of CronMaintenance that runs it, and its metadata. */
export interface MaintenanceCron {
  readonly method: (typeof MAINTENANCE_CRONS)[MaintenanceCronName]['method'];
  readonly metadata: CronMetadata;
}

/**
 * The library's own cron jobs, registered when an app has crons of its own:
 * they run through the same scheduler, lock and worker as the user's. Their
 * schedules come from the options, so they are built here rather than
 * declared with `@Cron`.
 */
@Injectable()
export class CronMaintenance {
  private readonly logger = new Logger(CronMaintenance.name);

  constructor(
    private readonly runs: CronRunStore,
    private readonly locks: CronLockService,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
  ) {}

  /**
   * The sweep runs every `cronSweepIntervalMs`, with that as its lockTtl: a
   * worker killed mid-sweep must not hold off the sweeps for long. The prune
   * runs hourly.
   */
  definitions(): MaintenanceCron[] {
    const sweepSeconds = this.options.cronSweepIntervalMs / 1_000;
    const where = 'CronMaintenance';
    return [
      {
        method: 'sweepLostRuns',
        metadata: buildCronMetadata(where, 'sweepLostRuns', `*/${sweepSeconds} * * * * *`, {
          name: 'tasks.sweepLostRuns' satisfies MaintenanceCronName,
          lockTtlMs: this.options.cronSweepIntervalMs,
          track: false,
        }),
      },
      {
        method: 'pruneCronRuns',
        metadata: buildCronMetadata(where, 'pruneCronRuns', '17 * * * *', { name: 'tasks.pruneCronRuns' satisfies MaintenanceCronName, lockTtlMs: 300_000 }),
      },
    ];
  }

  /**
   * A RUNNING row of this namespace is lost when its heartbeat is older than
   * its liveness bound (the cron's lockTtl) and its Redis lock is gone: a live
   * run heartbeats while its handler runs, and keeps its lock while it waits
   * to record its outcome through a Postgres outage. A crashed run's row is
   * so marked FAILED within lockTtl + one sweep interval.
   */
  async sweepLostRuns(): Promise<{ markedFailed: number }> {
    let markedFailed = 0;
    for (const row of await this.runs.silentRows()) {
      if (row.lockToken && (await this.locks.isHeld(row.jobName, row.lockToken))) continue;
      const since = row.heartbeatAt ? row.heartbeatAt.toISOString() : 'its start';
      const reason =
`Worker lost: no heartbeat since ${since} (liveness bound ${row.lockTtlMs} ms) and its lock is gone. ${WORKER_LOST_CAUSE}`;
      if (await this.runs.markLost(row, reason)) {
        markedFailed++;
        this.logger.warn(`Cron run ${row.id} of ${row.jobName} marked FAILED: no heartbeat since ${since}`);
      }
    }
    return { markedFailed };
  }

  /**
   * Deletes this namespace's runs older than the retention
   * (`cronRunRetentionDays`), `cronPruneBatchSize` rows at a time, for at most
   * half its lockTtl; what is left goes at the next prune.
   */
  async pruneCronRuns(): Promise<{ deletedCount: number; batches: number }> {
    const before = new Date(Date.now() - this.options.cronRunRetentionDays * 24 * 3_600_000);
    const { deleted, batches } = await this.runs.deleteOlderThan(before, this.options.cronPruneBatchSize, Date.now() + 150_000);
    return { deletedCount: deleted, batches };
  }
}
