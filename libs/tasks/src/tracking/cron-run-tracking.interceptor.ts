import { Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { CronRunContext } from '../cron/cron-run-context.js';
import { CronRunNotRecordedError } from '../errors/tasks.errors.js';
import { cronRunNotRecorded } from '../tasks.messages.js';
import { CronRunTracker } from './cron-run.tracker.js';

/**
 * Records a cron run: the RUNNING row is written before the handler is
 * called (no row, no run), and COMPLETED or FAILED after it returns.
 */
@Injectable()
export class CronRunTrackingInterceptor implements NestInterceptor {
  private readonly logger = new Logger('CronRuns');

  constructor(
    private readonly tracker: CronRunTracker,
    private readonly pino: PinoLogger,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const run = CronRunContext.of(context);
    if (!run.cron.track) return next.handle();
    return from(this.tracked(run, next));
  }

  private async tracked(run: CronRunContext, next: CallHandler): Promise<unknown> {
    let runId: number | undefined;
    try {
      runId = await this.tracker.start(run);
    } catch (error) {
      throw new CronRunNotRecordedError(cronRunNotRecorded(run.jobName, (error as Error).message), { cause: error });
    }
    if (runId === undefined) {
      run.notExecuted = 'DUPLICATE';
      this.logger.warn(`Cron job ${run.jobName} tick ${run.scheduledAt.toISOString()} already has a run; not running it again`);
      return undefined;
    }
    run.runId = runId;
    this.pino.assign({ runId });
    const started = performance.now();
    let result: unknown;
    try {
      result = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      await this.settle(run, () => this.tracker.fail(runId, performance.now() - started, error));
      throw error;
    }
    await this.settle(run, () => this.tracker.complete(runId, performance.now() - started, result));
    return result;
  }

  // The handler has run: keep trying to record its outcome while the lock is
  // held (a Postgres blip must not turn a finished run into a lost one), for at
  // most the cron's lockTtl; after that the lost-run sweep marks it FAILED.
  private async settle(run: CronRunContext, write: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + run.cron.lockTtlSeconds * 1_000;
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return;
      } catch (error) {
        if (Date.now() >= deadline) {
          this.logger.error(`Could not record the outcome of cron run ${run.runId} (${run.jobName}): ${(error as Error).message}`);
          return;
        }
        if (attempt === 1) {
          this.logger.warn(`Recording the outcome of cron run ${run.runId} (${run.jobName}) failed, retrying: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 2_000)));
      }
    }
  }
}
