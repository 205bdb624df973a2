import type { ExecutionContext } from '@nestjs/common';
import type { CronContext } from './cron-context.interface.js';
import type { RegisteredCron } from './cron.registry.js';
import type { CronRunStatus, CronRunTrigger } from '../tracking/cron-run-status.js';
import type { JobAbort } from '../worker/job-abort.js';

/**
 * The `CronContext` a handler sees, plus what the lock and tracking
 * interceptors hand each other during one run.
 */
export class CronRunContext implements CronContext {
  runId = 0;
  /** Set by the lock interceptor once it holds the lock. */
  lockToken?: string;
  /** How the run ended when it did not execute (SKIPPED, or a duplicate of a tick that already ran). */
  notExecuted?: CronRunStatus.SKIPPED | 'DUPLICATE';
  constructor(
    readonly cron: RegisteredCron,
    readonly scheduledAt: Date,
    readonly trigger: CronRunTrigger,
    readonly attempt: number,
    /** Fired by a lost lock and by shutdown past its grace period. */
    readonly abort: JobAbort,
  ) {}

  get jobName(): string {
    return this.cron.name;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** The run context of an interceptor's ExecutionContext (the handler's first argument). */
  static of(context: ExecutionContext): CronRunContext {
    const run = context.getArgByIndex<unknown>(0);
    if (!(run instanceof CronRunContext)) {
      throw new Error(`Cron interceptors only apply to @Cron() handlers; ${context.getClass().name} got ${String(run)}`);
    }
    return run;
  }
}
