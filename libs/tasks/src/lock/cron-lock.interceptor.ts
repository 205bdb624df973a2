import { Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { CronRunContext } from '../cron/cron-run-context.js';
import { CronRunStatus } from '../tracking/cron-run-status.js';
import { CronRunTracker } from '../tracking/cron-run.tracker.js';
import { CronLockService } from './cron-lock.service.js';

/**
 * Runs a cron handler only while holding the job's lock. When an earlier run
 * still holds it, the tick is recorded SKIPPED and the handler is not called.
 * The lock is released on success and on failure.
 */
@Injectable()
export class CronLockInterceptor implements NestInterceptor {
  private readonly logger = new Logger('CronLock');

  constructor(
    private readonly locks: CronLockService,
    private readonly tracker: CronRunTracker,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return from(this.runLocked(CronRunContext.of(context), next));
  }

  private async runLocked(run: CronRunContext, next: CallHandler): Promise<unknown> {
    const lock = await this.locks.tryAcquire(run.jobName, run.cron.lockTtlSeconds * 1_000, (error) =>
      run.abort.abort(new Error(`Lost the lock of cron job "${run.jobName}": ${error.message}`)),
    );
    if (!lock) {
      run.notExecuted = CronRunStatus.SKIPPED;
      this.logger.log(`Cron job ${run.jobName} skipped: an earlier run still holds its lock`);
      if (run.cron.track) await this.tracker.recordSkipped(run);
      return undefined;
    }
    run.lockToken = lock.token;
    try {
      return await lastValueFrom(next.handle(), { defaultValue: undefined });
    } finally {
      await lock.release();
    }
  }
}
