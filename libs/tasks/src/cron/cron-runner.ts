import { Injectable, Logger, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { UnrecoverableError, type Job } from 'bullmq';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { loggerModuleMissing, unknownCron } from '../tasks.messages.js';
import { CronRegistry } from './cron.registry.js';
import { CronRunContext } from './cron-run-context.js';
import type { CronJobData, CronRunOutcome } from './cron-job-data.js';
import type { JobAbort } from '../worker/job-abort.js';

/**
 * Runs one job of the cron queue: the handler through its interceptor chain
 * (lock, then tracking, then any user interceptors), in a logging context
 * carrying jobName and, once the run is recorded, runId.
 */
@Injectable()
export class CronRunner {
  private readonly logger = new Logger('Cron');

  constructor(
    private readonly registry: CronRegistry,
    @Optional() private readonly pino?: PinoLogger,
  ) {
    if (!pino) throw new TasksConfigurationError(loggerModuleMissing());
  }

  run(job: Job<CronJobData>, abort: JobAbort): Promise<CronRunOutcome> {
    const { name, scheduledAt, trigger } = job.data;
    const cron = this.registry.get(name);
    if (!cron) {
      const message = unknownCron(name, this.registry.names());
      this.logger.error(`${message} The job fails; deploy a worker that has it.`);
      throw new UnrecoverableError(message);
    }
    // The run shares the job's abort switch: shutdown past the grace period and a lost lock both fire it.
    const run = new CronRunContext(cron, new Date(scheduledAt), trigger, job.attemptsMade + 1, abort);
    const bindings = { jobName: name, scheduledAt: run.scheduledAt.toISOString(), attempt: run.attempt };
    return (this.pino as PinoLogger).runInContext(() => this.invoke(run), { bindings });
  }

  private async invoke(run: CronRunContext): Promise<CronRunOutcome> {
    const started = performance.now();
    try {
      const result = await run.cron.invoke(run);
      if (run.notExecuted) return { status: run.notExecuted };
      const durationMs = Math.round(performance.now() - started);
      this.logger.log(`Cron job ${run.jobName} completed in ${durationMs} ms`);
      return { status: 'COMPLETED', runId: run.runId || undefined, result };
    } catch (error) {
      this.logger.error(`Cron job ${run.jobName} failed: ${(error as Error).stack ?? String(error)}`);
      throw error;
    }
  }
}
