import { Injectable, Module, UseInterceptors, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { finalize, type Observable } from 'rxjs';
import { Cron, TasksModule, tasksOptionsFromEnv, type CronContext } from 'nestjs-tasks';
import { DatabaseModule } from '@app/jobs/database/database.module.js';
import { loggerParams } from '@app/jobs/logger-params.js';
import { preciseNow } from '../shared/clock.js';
import { NAMES } from '../shared/protocol.js';
import { recordChain, recordCron } from '../shared/samples.js';

/**
 * Wraps the cron handler outside the library's lock and tracking interceptors
 * (method interceptors run in declaration order, and this one is declared
 * first, below `@Cron`): the time from here to the handler, and from the
 * handler back to here, is what the lock and the run record cost.
 */
@Injectable()
export class RunTimingInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const chainStart = preciseNow();
    const tick = context.getArgByIndex<CronContext>(0).scheduledAt.getTime();
    return next.handle().pipe(finalize(() => recordChain(tick, chainStart, preciseNow())));
  }
}

/** The cron job of the cron scenario: every second, as a plain BullMQ job scheduler does in the baseline. */
@Injectable()
export class BenchCronJobs {
  @Cron('* * * * * *', { name: NAMES.cron, lockTtlMs: 30_000 })
  @UseInterceptors(RunTimingInterceptor)
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
  providers: [BenchCronJobs, RunTimingInterceptor],
})
export class BenchCronModule {}

