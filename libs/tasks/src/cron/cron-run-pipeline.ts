import { Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { CronRunNotRecordedError } from '../errors/tasks.errors.js';
import { cronLockLost, cronRunNotRecorded, unknownCron } from '../tasks.messages.js';
import { CronLockService, type HeldLock } from '../lock/cron-lock.service.js';
import { CronRunTracker, type CronRunKey } from '../tracking/cron-run.tracker.js';
import type { JobAbort } from '../worker/job-abort.js';
import { RunLogContext } from '../logging/run-log-context.js';
import { CronCatalog, type RegisteredCron } from './cron.catalog.js';
import { CronRunContext } from './cron-context.js';
import type { CronJobData, CronRunOutcome } from './cron-job-data.js';

/** What the RUNNING step decided: run with this row id (0 when untracked), or do not run at all. */
type Admission = { runId: number } | { duplicate: true };

/**
 * Runs one job of the cron queue, as one pipeline of plain steps:
 *
 *   take the lock → record RUNNING → user interceptors → handler → record the outcome → release
 *
 * A tick whose lock is held is recorded SKIPPED and goes no further; a tick
 * that already has a row is a DUPLICATE and does not run; a run whose row
 * cannot be written does not run. User interceptors wrap the handler alone,
 * so they run inside the lock and never on a tick that did not execute.
 */
@Injectable()
export class CronRunPipeline {
  private readonly logger = new Logger('Cron');

  constructor(
    private readonly crons: CronCatalog,
    private readonly locks: CronLockService,
    private readonly tracker: CronRunTracker,
    private readonly logContext: RunLogContext,
  ) {}

  run(job: Job<CronJobData>, abort: JobAbort): Promise<CronRunOutcome> {
    const { name, scheduledAt, trigger } = job.data;
    const cron = this.crons.get(name);
    if (!cron) {
      const message = unknownCron(name, this.crons.names());
      this.logger.error(`${message} The job fails; deploy a worker that has it.`);
      throw new UnrecoverableError(message);
    }
    const run: CronRunKey = { jobName: name, scheduledAt: new Date(scheduledAt), trigger, attempt: job.attemptsMade + 1 };
    const bindings = { jobName: name, scheduledAt: run.scheduledAt.toISOString(), attempt: run.attempt };
    return this.logContext.run(bindings, () => this.execute(cron, run, abort));
  }

  /** Every way a run fails (no lock, no row, the handler threw) is logged in the run's context, then fails the job. */
  private async execute(cron: RegisteredCron, run: CronRunKey, abort: JobAbort): Promise<CronRunOutcome> {
    try {
      return await this.steps(cron, run, abort);
    } catch (error) {
      this.logger.error(`Cron job ${cron.name} failed: ${(error as Error).stack ?? String(error)}`);
      throw error;
    }
  }

  private async steps(cron: RegisteredCron, run: CronRunKey, abort: JobAbort): Promise<CronRunOutcome> {
    const lock = await this.acquire(cron, abort);
    if (!lock) {
      this.logger.log(`Cron job ${cron.name} skipped: an earlier run still holds its lock`);
      if (cron.track) await this.tracker.recordSkipped(run);
      return { status: 'SKIPPED' };
    }
    try {
      const admission = await this.admit(cron, run, lock);
      if ('duplicate' in admission) {
        this.logger.warn(`Cron job ${cron.name} tick ${run.scheduledAt.toISOString()} already has a run; not running it again`);
        return { status: 'DUPLICATE' };
      }
      const { runId } = admission;
      const context = new CronRunContext(cron.name, runId, run.scheduledAt, run.trigger, run.attempt, abort);
      const started = performance.now();
      let result: unknown;
      try {
        result = await cron.invoke(context);
      } catch (error) {
        const durationMs = performance.now() - started;
        if (runId) await this.record(cron, runId, () => this.tracker.fail(runId, durationMs, error));
        throw error;
      }
      const durationMs = performance.now() - started;
      if (runId) await this.record(cron, runId, () => this.tracker.complete(runId, durationMs, result));
      this.logger.log(`Cron job ${cron.name} completed in ${Math.round(durationMs)} ms`);
      return runId ? { status: 'COMPLETED', runId, result } : { status: 'COMPLETED', result };
    } finally {
      await lock.release();
    }
  }

  /** Step 1: the job's lock, or undefined when an earlier run holds it. Losing it later aborts the run. */
  private acquire(cron: RegisteredCron, abort: JobAbort): Promise<HeldLock | undefined> {
    return this.locks.tryAcquire(cron.name, cron.lockTtlMs, (error) => abort.abort(new Error(cronLockLost(cron.name, error.message))));
  }

  /** Step 2: the RUNNING row (no row, no run), or a duplicate when this tick already has one. */
  private async admit(cron: RegisteredCron, run: CronRunKey, lock: HeldLock): Promise<Admission> {
    if (!cron.track) return { runId: 0 };
    let runId: number | undefined;
    try {
      runId = await this.tracker.start(run, lock.token);
    } catch (error) {
      throw new CronRunNotRecordedError(cronRunNotRecorded(cron.name, (error as Error).message), { cause: error });
    }
    if (runId === undefined) return { duplicate: true };
    this.logContext.assign({ runId });
    return { runId };
  }

  // Step 5. The handler has run: keep trying to record its outcome while the
  // lock is held (a Postgres blip must not turn a finished run into a lost
  // one), for at most the cron's lockTtl; after that the lost-run sweep marks it FAILED.
  private async record(cron: RegisteredCron, runId: number, write: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + cron.lockTtlMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return;
      } catch (error) {
        if (Date.now() >= deadline) {
          this.logger.error(`Could not record the outcome of cron run ${runId} (${cron.name}): ${(error as Error).message}`);
          return;
        }
        if (attempt === 1) {
          this.logger.warn(`Recording the outcome of cron run ${runId} (${cron.name}) failed, retrying: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 2_000)));
      }
    }
  }
}
