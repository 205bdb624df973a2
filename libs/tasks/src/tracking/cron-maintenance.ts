import { Inject, Injectable, Logger } from '@nestjs/common';
import { Cron, DEFAULT_LOCK_TTL_SECONDS } from '../cron/cron.decorator.js';
import { CronRegistry } from '../cron/cron.registry.js';
import { CronLockService } from '../lock/cron-lock.service.js';
import { TASKS_OPTIONS } from '../tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { CronRunTracker } from './cron-run.tracker.js';

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
    private readonly crons: CronRegistry,
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
    lockTtl: LOST_RUN_SWEEP_SECONDS,
    track: false,
  })
  async sweepLostRuns(): Promise<{ markedFailed: number }> {
    let markedFailed = 0;
    for (const row of await this.tracker.runningRows()) {
      if (row.lockToken && (await this.locks.isHeld(row.jobName, row.lockToken))) continue;
      const lockTtl = this.crons.get(row.jobName)?.lockTtlSeconds ?? DEFAULT_LOCK_TTL_SECONDS;
      if (await this.tracker.markLost(row.id, lockTtl)) {
        markedFailed++;
        this.logger.warn(`Cron run ${row.id} of ${row.jobName} marked FAILED: its worker was lost`);
      }
    }
    return { markedFailed };
  }

  /** Deletes runs older than the retention (`cronRunRetentionDays`, default 30). */
  @Cron('17 * * * *', { name: 'tasks.pruneCronRuns', lockTtl: 300 })
  async pruneCronRuns(): Promise<{ deletedCount: number }> {
    const before = new Date(Date.now() - this.options.cronRunRetentionDays * 24 * 3_600_000);
    const deletedCount = await this.tracker.deleteOlderThan(before);
    return { deletedCount };
  }
}
