import { Inject, Injectable, Logger } from '@nestjs/common';
import { CronLockService } from '../lock/cron-lock.service.js';
import { TASKS_OPTIONS } from '../module/tasks.constants.js';
import type { ResolvedTasksOptions } from '../module/tasks-options.interface.js';
import { CronRunTracker } from '../tracking/cron-run.tracker.js';
import { Cron, DEFAULT_LOCK_TTL_MS } from './cron.decorator.js';
import { CronCatalog } from './cron.catalog.js';

/** How often lost runs are looked for; a lost run turns FAILED within its lockTtl plus this. */
export const LOST_RUN_SWEEP_SECONDS = 5;

/**
 * The library's own cron jobs, registered when an app has crons of its own:
 * they run through the same scheduler, lock and worker as the user's.
 */
@Injectable()
export class CronMaintenance {
  private readonly logger = new Logger('CronMaintenance');

  constructor(
    private readonly tracker: CronRunTracker,
    private readonly locks: CronLockService,
    private readonly crons: CronCatalog,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
  ) {}

  /**
   * A RUNNING row whose lock is gone lost its worker: a live run keeps its
   * lock extended and writes its outcome before releasing it. The sweep's own
   * lockTtl is one interval: a worker killed mid-sweep must not hold off the
   * sweeps (and so the "within lockTtl + one interval" promise) for long.
   */
  @Cron(`*/${LOST_RUN_SWEEP_SECONDS} * * * * *`, {
    name: 'tasks.sweepLostRuns',
    lockTtlMs: LOST_RUN_SWEEP_SECONDS * 1_000,
    track: false,
  })
  async sweepLostRuns(): Promise<{ markedFailed: number }> {
    let markedFailed = 0;
    for (const row of await this.tracker.runningRows()) {
      if (row.lockToken && (await this.locks.isHeld(row.jobName, row.lockToken))) continue;
      const lockTtlMs = this.crons.get(row.jobName)?.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
      if (await this.tracker.markLost(row.id, lockTtlMs)) {
        markedFailed++;
        this.logger.warn(`Cron run ${row.id} of ${row.jobName} marked FAILED: its worker was lost`);
      }
    }
    return { markedFailed };
  }

  /** Deletes runs older than the retention (`cronRunRetentionDays`, default 30). */
  @Cron('17 * * * *', { name: 'tasks.pruneCronRuns', lockTtlMs: 300_000 })
  async pruneCronRuns(): Promise<{ deletedCount: number }> {
    const before = new Date(Date.now() - this.options.cronRunRetentionDays * 24 * 3_600_000);
    const deletedCount = await this.tracker.deleteOlderThan(before);
    return { deletedCount };
  }
}
