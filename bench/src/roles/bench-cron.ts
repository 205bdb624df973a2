import { Injectable, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { Cron, TasksModule, tasksOptionsFromEnv, type CronContext } from 'nestjs-tasks';
import { CronRunPipeline } from '#nestjs-tasks-internal';
import { DatabaseModule } from '@app/jobs/database/database.module.js';
import { loggerParams } from '@app/jobs/logger-params.js';
import { preciseNow } from '../shared/clock.js';
import { NAMES } from '../shared/protocol.js';
import { recordChain, recordCron } from '../shared/samples.js';

/**
 * Times the library's cron run pipeline from the outside: from its start to
 * the handler, and from the handler back to its end, is what the lock and the
 * run record cost (user interceptors run inside the pipeline, so one cannot
 * measure it). Called by the bench's cron worker before it boots.
 */
export function timeCronPipeline(): void {
  const { run } = Object.getOwnPropertyDescriptors(CronRunPipeline.prototype);
  const untimed = run.value as CronRunPipeline['run'];
  CronRunPipeline.prototype.run = function timedRun(this: CronRunPipeline, ...args: Parameters<CronRunPipeline['run']>) {
    const chainStart = preciseNow();
    const tick = args[0].data.scheduledAt;
    return untimed.apply(this, args).finally(() => recordChain(tick, chainStart, preciseNow()));
  };
}

/** The cron job of the cron scenario: every second, as a plain BullMQ job scheduler does in the baseline. */
@Injectable()
export class BenchCronJobs {
  @Cron('* * * * * *', { name: NAMES.cron, lockTtlMs: 30_000 })
  async everySecond(ctx: CronContext): Promise<{ tick: number }> {
    const handlerStart = preciseNow();
    const tick = ctx.scheduledAt.getTime();
    recordCron({ tick, handlerStart, handlerEnd: preciseNow() });
    return { tick };
  }
}

/** Worker and scheduler of the cron scenario, tracking runs in Postgres (DATABASE_SCHEMA). */
@Module({
  imports: [LoggerModule.forRoot(loggerParams()), TasksModule.forRoot(tasksOptionsFromEnv()), DatabaseModule],
  providers: [BenchCronJobs],
})
export class BenchCronModule {}

