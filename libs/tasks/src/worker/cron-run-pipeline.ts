import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { CronRunNotRecordedError } from '../errors/tasks.errors.js';
import { cronLockLost, cronRunNotRecorded, unknownCron } from '../errors/tasks.messages.js';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TasksClock } from '../options/tasks-clock.js';
import { CronLockService, type BufferSlot, type CronLocks, type HeldLock } from '../lock/cron-lock.service.js';
import { CronRunStore, type CronRunKey, type CronRunRecorder } from '../tracking/cron-run.store.js';
import { CronRunStatus } from '../tracking/cron-run-status.js';
import { HandBackRequest, WorkerShutdownAbort, type JobAbort } from '../task/job-abort.js';
import { RunLogContext } from '../observability/run-log-context.js';
import { escapeLogText } from '../redaction/escape-log-text.js';
import { describeError } from '../redaction/redact.js';
import { TasksEvents } from '../events/tasks-events.js';
import { errorType } from '../events/lifecycle-events.js';
import { TASKS_ATTRIBUTES, endWithError, startProcessSpan, withSpan } from '../observability/task-tracing.js';
import { CronCatalog, type RegisteredCron } from '../cron/cron.catalog.js';
import { CronRunContext } from '../cron/cron-context.js';
import { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';
import type { CronJobData, CronRunOutcome } from '../cron/cron-job-data.js';
import { missedReason } from '../cron/catch-up-policy.js';
import { CronLockLostError, CronRunLostError, describeAbort } from '../cron/cron-abort.js';

/** How often a `bufferOne` tick waiting for the running one checks whether it may start. */
const BUFFER_POLL_MS = 250;
/** A waiting place not refreshed for this long is free again (its worker died). */
const BUFFER_SLOT_TTL_MS = 5_000;

/** What claiming lock and row decided. */
type Claim =
  | { kind: 'run'; lock: HeldLock | undefined; runId: number; fencingToken: number }
  | { kind: 'busy'; reason: string }
  | { kind: 'duplicate' }
  | { kind: 'paused' };

/** The `context` field of the run's lines: the class's name, as its Nest Logger sets it. */
const LOG_CONTEXT = 'CronRunPipeline';

const iso = (date: Date | number | null) => (date === null ? 'never' : new Date(date).toISOString());

/** What the pipeline reads and writes of a cron queue's job: a BullMQ job, or the testing kit's. */
export type CronJob = Pick<Job<CronJobData>, 'id' | 'data' | 'attemptsMade' | 'opts' | 'queueName' | 'updateData'>;

/**
 * Runs one job of the cron queue, as one pipeline of plain steps:
 *
 *   catch-up policy → lock and row (overlap policy) → heartbeat → user interceptors → handler → fenced outcome → release
 *
 * A tick the catch-up policy rejects is recorded MISSED; a tick that finds a
 * run going is SKIPPED, waits (`bufferOne`) or runs beside it (`allow`); a
 * tick that already has a row is a DUPLICATE; a run whose row cannot be
 * written does not run. User interceptors wrap the handler alone, so they
 * run inside the lock and never on a tick that did not execute.
 *
 * Each step tells the lifecycle events what it decided (missed, skipped,
 * claimed, finished); metrics, the run's log fields and its span annotations
 * listen to them. The run's span and logging context wrap the whole pipeline here.
 */
@Injectable()
export class CronRunPipeline {
  private readonly logger = new Logger(CronRunPipeline.name);

  constructor(
    private readonly crons: CronCatalog,
    @Inject(CronLockService) private readonly locks: CronLocks,
    @Inject(CronRunStore) private readonly runs: CronRunRecorder,
    private readonly logContext: RunLogContext,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly events: TasksEvents,
    private readonly schedules: ScheduleStoreSelector,
    private readonly clock: TasksClock,
  ) {}

  run(job: CronJob, abort: JobAbort): Promise<CronRunOutcome> {
    const { name, scheduledAt, trigger } = job.data;
    const cron = this.crons.get(name);
    if (!cron) {
      // The name is whatever was written to the cron queue.
      const message = unknownCron(escapeLogText(name), this.crons.names());
      this.logger.error(`${message} The job fails; deploy a worker that has it.`);
      throw new UnrecoverableError(message);
    }
    const run: CronRunKey = { jobName: name, scheduledAt: new Date(scheduledAt), trigger, attempt: job.attemptsMade + 1 };
    const bindings = { jobName: name, scheduledAt: run.scheduledAt.toISOString(), attempt: run.attempt };
    const { span, context } = startProcessSpan(job, () => ({
      [TASKS_ATTRIBUTES.cron]: name,
      [TASKS_ATTRIBUTES.tick]: bindings.scheduledAt,
      [TASKS_ATTRIBUTES.trigger]: trigger,
      [TASKS_ATTRIBUTES.attempt]: run.attempt,
    }));
    return withSpan(context, () =>
      this.logContext.run(bindings, () =>
        this.execute(cron, run, job, abort).then(
          (outcome) => {
            span.setAttribute(TASKS_ATTRIBUTES.outcome, outcome.status);
            span.end();
            return outcome;
          },
          (error: unknown) => {
            endWithError(span, error, { [TASKS_ATTRIBUTES.outcome]: error instanceof HandBackRequest ? 'HANDED_BACK' : 'FAILED' });
            throw error;
          },
        ),
      ),
    );
  }

  // A routine line (completed, skipped, waiting) is info for the app's crons
  // and debug for the library's own, whose sweep alone runs every few seconds
  // on an idle deployment. Failures stay warn and error for both. Every run
  // writes one, so it goes to the run's pino logger directly, as the task
  // lines do: Nest's Logger and nestjs-pino's wrapper around it cost a cron
  // run, whose code is cold a second after the last, a measurable share of
  // what its lock and row cost (docs/benchmarks.md).
  private routine(cron: RegisteredCron, event: string, message: string): void {
    const log = this.logContext.logger;
    if (cron.internal) log.debug({ context: LOG_CONTEXT, event }, message);
    else log.info({ context: LOG_CONTEXT, event }, message);
  }

  /** Every way a run fails (no lock, no row, the handler threw) is logged in the run's context, then fails the job. */
  private async execute(cron: RegisteredCron, run: CronRunKey, job: CronJob, abort: JobAbort): Promise<CronRunOutcome> {
    try {
      return await this.steps(cron, run, job, abort);
    } catch (error) {
      if (error instanceof HandBackRequest) throw error;
      this.logger.error(`Cron job ${cron.name} failed: ${describeError(error, this.options.redisUrl)}`);
      throw error;
    }
  }

  private async steps(cron: RegisteredCron, run: CronRunKey, job: CronJob, abort: JobAbort): Promise<CronRunOutcome> {
    // A retry or a handed-back run continues a tick that was admitted on time: catch-up judged it already.
    if (run.trigger === 'schedule' && run.attempt === 1 && !job.data.resumed) {
      const late = missedReason(cron, run.scheduledAt.getTime(), this.clock.now(), this.options.cronCatchUpMs);
      if (late) {
        const reason = `Missed: ${late}`;
        this.logger.warn(`Cron job ${cron.name} tick ${iso(run.scheduledAt)} not run. ${reason}`);
        let recorded = false;
        if (cron.track) recorded = (await this.runs.recordMissed(cron.name, [{ tick: run.scheduledAt.getTime(), reason }])).length > 0;
        else await this.noteUntracked(cron, run, CronRunStatus.MISSED);
        this.events.emit('cron.tick.missed', { cron: cron.name, scheduledAt: run.scheduledAt, cause: 'late-start', reason, recorded });
        return { status: 'MISSED', reason };
      }
    }
    const claim = await this.claim(cron, run, String(job.id), abort);
    switch (claim.kind) {
      case 'busy': {
        const reason = `Skipped: ${claim.reason}`;
        this.routine(cron, 'cron.skipped', `Cron job ${cron.name} skipped: ${claim.reason}`);
        let recorded = false;
        if (cron.track) recorded = await this.runs.recordSkipped(run, reason);
        else await this.noteUntracked(cron, run, CronRunStatus.SKIPPED);
        this.events.emit('cron.run.skipped', { ...runFields(run), reason, recorded });
        return { status: 'SKIPPED', reason };
      }
      case 'duplicate':
        this.logger.warn(`Cron job ${cron.name} tick ${iso(run.scheduledAt)} already has a row; not running it again`);
        return { status: 'DUPLICATE' };
      case 'paused':
        this.routine(cron, 'cron.paused', `Cron job ${cron.name} is paused; tick ${iso(run.scheduledAt)} not run`);
        return { status: 'PAUSED' };
    }
    const { lock, runId, fencingToken } = claim;
    const heartbeat = runId ? this.startHeartbeat(cron, runId, fencingToken, abort) : undefined;
    try {
      return await this.invoke(cron, run, job, { runId, fencingToken }, abort, heartbeat);
    } finally {
      heartbeat?.stop();
      await lock?.release();
    }
  }

  /**
   * Lock and row, by the overlap policy. `skip`: a run going makes this tick
   * `busy`. `bufferOne`: the first tick to find a run going takes the job's
   * one waiting place and tries again until it may start; any other is
   * `busy`. `allow`: no lock, only the row.
   */
  private async claim(cron: RegisteredCron, run: CronRunKey, jobId: string, abort: JobAbort): Promise<Claim> {
    // A tick already waits: it goes first, even if the run it waits for has just ended and its
    // next look at the lock is still due. A fresh tick taking the lock in that gap would run
    // ahead of it (the waiting tick would then run after, out of order).
    if (cron.overlap === 'bufferOne' && (await this.locks.isBufferSlotTaken(cron.name))) {
      return { kind: 'busy', reason: `another tick already waits for it (overlap: 'bufferOne')` };
    }
    let slot: BufferSlot | undefined;
    try {
      for (;;) {
        const claim = await this.tryClaim(cron, run, abort);
        if (claim.kind !== 'busy' || cron.overlap !== 'bufferOne') return claim;
        if (!slot) {
          slot = await this.locks.tryTakeBufferSlot(cron.name, jobId, BUFFER_SLOT_TTL_MS);
          if (!slot) return { kind: 'busy', reason: `${claim.reason}, and another tick already waits for it (overlap: 'bufferOne')` };
          this.routine(cron, 'cron.waiting', `Cron job ${cron.name} waits for the run going to end: ${claim.reason}`);
        }
        try {
          await this.clock.sleep(BUFFER_POLL_MS, abort.signal);
        } catch {
          // Shutdown while waiting: the tick has no row yet and goes back to the queue as it is.
          throw abort.reason instanceof WorkerShutdownAbort ? new HandBackRequest('Worker shut down while the tick waited') : abort.reason;
        }
        await slot.refresh();
      }
    } finally {
      await slot?.release();
    }
  }

  private async tryClaim(cron: RegisteredCron, run: CronRunKey, abort: JobAbort): Promise<Claim> {
    let lock: HeldLock | undefined;
    if (cron.overlap !== 'allow') {
      lock = await this.locks.tryAcquire(cron.name, cron.lockTtlMs, (error) =>
        abort.abort(new CronLockLostError(cronLockLost(cron.name, error.message))),
      );
      if (!lock) return { kind: 'busy', reason: 'an earlier run still holds the lock' };
    }
    if (!cron.track) return this.claimUntracked(cron, run, lock);
    let admission;
    try {
      admission = await this.runs.admit(run, {
        lockToken: lock?.token ?? null,
        lockTtlMs: cron.lockTtlMs,
        exclusive: cron.overlap !== 'allow',
      });
    } catch (error) {
      await lock?.release();
      throw new CronRunNotRecordedError(cronRunNotRecorded(cron.name, (error as Error).message), { cause: error });
    }
    if (admission.kind === 'run') return { kind: 'run', lock, runId: admission.runId, fencingToken: admission.fencingToken };
    await lock?.release();
    if (admission.kind === 'busy') {
      return {
        kind: 'busy',
        reason: `run ${admission.runId} of this job is still RUNNING (last heartbeat ${iso(admission.heartbeatAt)}) although the lock was free`,
      };
    }
    return admission;
  }

  /**
   * An untracked run has no row. In an app whose schedules are in Redis (all
   * its crons untracked) a scheduled tick checks the pause there, as a row's
   * claim does, and the run is noted as the cron's latest.
   */
  private async claimUntracked(cron: RegisteredCron, run: CronRunKey, lock: HeldLock | undefined): Promise<Claim> {
    if (this.schedules.inRedis) {
      let admitted: boolean;
      try {
        admitted = await this.schedules.redis.startRun(cron.name, run.scheduledAt, run.trigger);
      } catch (error) {
        await lock?.release();
        throw error;
      }
      if (!admitted) {
        await lock?.release();
        return { kind: 'paused' };
      }
    }
    return { kind: 'run', lock, runId: 0, fencingToken: 0 };
  }

  /** Notes how an untracked run (or tick) ended, where the schedules are in Redis; a failure to note it is only logged. */
  private async noteUntracked(cron: RegisteredCron, run: CronRunKey, status: CronRunStatus): Promise<void> {
    if (!this.schedules.inRedis) return;
    try {
      await this.schedules.redis.endRun(cron.name, run.scheduledAt, status);
    } catch (error) {
      this.logger.warn(`Could not note the ${status} run of cron job ${cron.name} (tick ${iso(run.scheduledAt)}): ${(error as Error).message}`);
    }
  }

  private async invoke(
    cron: RegisteredCron,
    run: CronRunKey,
    job: CronJob,
    { runId, fencingToken }: { runId: number; fencingToken: number },
    abort: JobAbort,
    heartbeat: Heartbeat | undefined,
  ): Promise<CronRunOutcome> {
    const context = new CronRunContext(cron.name, runId, fencingToken, run.scheduledAt, run.trigger, run.attempt, abort);
    const row = runId ? { runId, fencingToken } : {};
    this.events.emit('cron.run.claimed', { ...runFields(run), ...row, resumed: job.data.resumed === true });
    const started = performance.now();
    let result: unknown;
    try {
      result = await cron.invoke(context);
    } catch (error) {
      const durationMs = performance.now() - started;
      heartbeat?.stop();
      if (abort.reason instanceof WorkerShutdownAbort) {
        // The handler gave up because the worker is going: its row is handed back with the job.
        const reason = `Handed back at shutdown after ${Math.round(durationMs)} ms: another worker runs the tick again`;
        if (runId) await this.runs.handBack(cron.name, runId, fencingToken, durationMs, reason).catch(() => false);
        // The worker that takes it resumes this run: the tick is old by then, but not missed.
        await job.updateData({ ...job.data, resumed: true }).catch(() => undefined);
        this.logger.warn(`Cron job ${cron.name}: ${reason}`);
        throw new HandBackRequest(reason);
      }
      const aborted = abort.aborted ? describeAbort(abort.reason) : undefined;
      let recorded = false;
      if (runId) recorded = await this.record(cron, runId, fencingToken, () => this.runs.fail(cron.name, runId, fencingToken, durationMs, error, aborted));
      else await this.noteUntracked(cron, run, CronRunStatus.FAILED);
      this.events.emit('cron.run.finished', { ...runFields(run), ...row, durationMs, recorded, status: 'FAILED', errorType: errorType(error) });
      throw error;
    }
    const durationMs = performance.now() - started;
    heartbeat?.stop();
    let recorded = false;
    if (runId) recorded = await this.record(cron, runId, fencingToken, () => this.runs.complete(cron.name, runId, fencingToken, durationMs, result));
    else await this.noteUntracked(cron, run, CronRunStatus.COMPLETED);
    this.events.emit('cron.run.finished', { ...runFields(run), ...row, durationMs, recorded, status: 'COMPLETED' });
    this.routine(cron, 'cron.completed', `Cron job ${cron.name} completed in ${Math.round(durationMs)} ms`);
    return runId ? { status: 'COMPLETED', runId, fencingToken, result } : { status: 'COMPLETED', result };
  }

  /**
   * Writes the heartbeat every third of the lockTtl while the handler runs,
   * whatever happens to the Redis lock: a live run's row stays RUNNING, and
   * so no other run of the job can start. A heartbeat the database refuses
   * means the row was marked lost: the run is aborted.
   */
  private startHeartbeat(cron: RegisteredCron, runId: number, fencingToken: number, abort: JobAbort): Heartbeat {
    let failing = false;
    let stopped = false;
    const beat = async () => {
      try {
        const owned = await this.runs.heartbeat(cron.name, runId, fencingToken);
        if (failing) this.logger.log(`Cron run ${runId} (${cron.name}) heartbeats again`);
        failing = false;
        if (!owned && !stopped) {
          stopped = true;
          timer.stop();
          this.logger.error(`Cron run ${runId} (${cron.name}) no longer owns its row (marked lost, or reclaimed): aborting it`);
          abort.abort(new CronRunLostError(`run ${runId} (fencing token ${fencingToken}) was marked lost or reclaimed`));
        }
      } catch (error) {
        if (!failing) this.logger.warn(`Heartbeat of cron run ${runId} (${cron.name}) failed, retrying: ${(error as Error).message}`);
        failing = true;
      }
    };
    const timer = this.clock.every(Math.max(Math.floor(cron.lockTtlMs / 3), 100), () => void beat());
    return {
      stop: () => {
        stopped = true;
        timer.stop();
      },
    };
  }

  // The handler has run: keep trying to record its outcome (a Postgres blip
  // must not turn a finished run into a lost one: the lock stays extended
  // meanwhile, so the sweep leaves the row alone). A refused write means the
  // row was marked lost or reclaimed meanwhile: the late outcome is dropped.
  // True when the outcome is in the row.
  private async record(cron: RegisteredCron, runId: number, fencingToken: number, write: () => Promise<boolean>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (await write()) return true;
        this.logger.warn(
          `Outcome of cron run ${runId} (${cron.name}, fencing token ${fencingToken}) not recorded: ` +
            `the row was marked lost or reclaimed while the handler ran (${this.runs.refusedWrites} refused write(s) so far)`,
        );
        return false;
      } catch (error) {
        if (attempt === 1) {
          this.logger.warn(`Recording the outcome of cron run ${runId} (${cron.name}) failed, retrying: ${(error as Error).message}`);
        }
        await this.clock.sleep(Math.min(200 * attempt, 2_000));
      }
    }
  }
}

interface Heartbeat {
  stop(): void;
}

/** The fields every run event carries. */
function runFields(run: CronRunKey) {
  return { cron: run.jobName, scheduledAt: run.scheduledAt, trigger: run.trigger, attempt: run.attempt };
}

