import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { UnrecoverableError, type JobsOptions } from 'bullmq';
// Named imports: a test's fake timers replace the globals, and waitResult's timeout is real time.
import { clearTimeout, setTimeout } from 'node:timers';
import { CRON_QUEUE, TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TaskFailedError, TaskWaitAbortedError, TaskWaitTimeoutError, UnknownCronError } from '../errors/tasks.errors.js';
import { unknownCron, waitAborted, waitTimedOut } from '../errors/tasks.messages.js';
import { HandBackRequest, JobAbort, WorkerShutdownAbort } from '../task/job-abort.js';
import { CronCatalog, type RegisteredCron } from '../cron/cron.catalog.js';
import { cronJobOptions, cronTickJobId, type CronJobData, type CronRunOutcome } from '../cron/cron-job-data.js';
import { catchUpAfterBoot, planCatchUp } from '../cron/catch-up-policy.js';
import { fireTicks, type TickFiring } from '../cron/fire-ticks.js';
import { TasksEvents } from '../events/tasks-events.js';
import type { CronRunTrigger } from '../tracking/cron-run-status.js';
import type { TaskHandle, WaitResultOptions } from '../client/task-client.types.js';
import { CronRunPipeline, type CronJob } from '../worker/cron-run-pipeline.js';
import { FakeClock, type FakeTimerHandle } from './fake-clock.js';
import { InMemoryCronLocks } from './in-memory-cron-locks.js';
import { InMemoryCronRunStore, type CronRun } from './in-memory-run-store.js';
import { InMemoryScheduleStore } from './in-memory-schedule-store.js';

/** How one attempt of a cron job ended in the kit's worker: the pipeline's outcome, or why it threw. */
export type CronAttemptOutcome =
  | CronRunOutcome
  | { readonly status: 'FAILED'; readonly error: unknown }
  /** Given up at shutdown (or while it waited, `bufferOne`): back to the queue. */
  | { readonly status: 'HANDED_BACK'; readonly reason: string };

/** One attempt of one tick (or trigger) the kit's worker ran through the production pipeline. */
export interface CronAttempt {
  readonly jobName: string;
  readonly scheduledAt: Date;
  readonly trigger: CronRunTrigger;
  readonly attempt: number;
  /** Fake time at which the attempt ended. */
  readonly endedAt: Date;
  readonly outcome: CronAttemptOutcome;
}

/** A {@link CronAttempt} as kept: its instants as epoch ms (a year of ticks keeps a lot of them). */
type AttemptRecord = Omit<CronAttempt, 'scheduledAt' | 'endedAt'> & { readonly scheduledAt: number; readonly endedAt: number };

type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';

/** A job of the kit's cron queue: what the production pipeline reads of a BullMQ job. */
class KitCronJob implements CronJob {
  readonly queueName = CRON_QUEUE;
  attemptsMade = 0;
  state: JobState = 'waiting';
  private settled?: { readonly outcome: CronRunOutcome } | { readonly error: Error };
  private waiters?: Set<(settled: { readonly outcome: CronRunOutcome } | { readonly error: Error }) => void>;

  constructor(
    readonly id: string,
    readonly name: string,
    public data: CronJobData,
    readonly opts: JobsOptions,
  ) {}

  updateData(data: CronJobData): Promise<void> {
    this.data = data;
    return Promise.resolve();
  }

  finish(settled: { readonly outcome: CronRunOutcome } | { readonly error: Error }): void {
    this.settled = settled;
    this.state = 'outcome' in settled ? 'completed' : 'failed';
    for (const waiter of this.waiters ?? []) waiter(settled);
    this.waiters = undefined;
  }

  /** The job's outcome once it finished for good; rejects as `waitResult()` does in production. */
  result(timeoutMs: number | undefined, closed: () => boolean): Promise<CronRunOutcome> {
    if (this.settled) return unwrap(this.settled);
    if (closed()) return Promise.reject(new TaskWaitAbortedError(waitAborted(this.name, this.id), this.name, this.id));
    return new Promise<CronRunOutcome>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (settled: { readonly outcome: CronRunOutcome } | { readonly error: Error }) => {
        clearTimeout(timer);
        unwrap(settled).then(resolve, reject);
      };
      (this.waiters ??= new Set()).add(waiter);
      if (timeoutMs !== undefined) {
        // As in production, the wait is counted in real time.
        timer = setTimeout(() => {
          this.waiters?.delete(waiter);
          reject(new TaskWaitTimeoutError(waitTimedOut(this.name, this.id, timeoutMs), this.name, this.id));
        }, timeoutMs);
        timer.unref();
      }
    });
  }

  /** The app closes: waiters stop waiting, as production's result listener rejects them. */
  abandon(): void {
    for (const waiter of this.waiters ?? []) waiter({ error: new TaskWaitAbortedError(waitAborted(this.name, this.id), this.name, this.id) });
    this.waiters = undefined;
  }
}

function unwrap(settled: { readonly outcome: CronRunOutcome } | { readonly error: Error }): Promise<CronRunOutcome> {
  return 'outcome' in settled ? Promise.resolve(settled.outcome) : Promise.reject(settled.error);
}

/** The handle `CronRegistry.trigger()` returns in the kit: its outcome once the kit's worker ran it. */
class KitCronHandle implements TaskHandle<CronRunOutcome> {
  constructor(
    private readonly job: KitCronJob,
    private readonly closed: () => boolean,
  ) {}

  get id(): string {
    return this.job.id;
  }

  get name(): string {
    return this.job.name;
  }

  cancel(): Promise<'removed' | 'signalled' | 'finished'> {
    return Promise.reject(new Error(`Job ${this.job.id} cannot be cancelled`));
  }

  onProgress(): () => void {
    return () => undefined;
  }

  waitResult(options: WaitResultOptions = {}): Promise<CronRunOutcome> {
    return this.job.result(options.timeoutMs, this.closed);
  }
}

/**
 * The cron queue of the kit, under `CRON_QUEUE_TOKEN`: what `CronRegistry`
 * and the kit's scheduler add jobs with. A job id already waiting or running
 * adds nothing, as in BullMQ.
 */
export class KitCronQueue {
  readonly name = CRON_QUEUE;

  constructor(private readonly onAdd: (name: string, data: CronJobData, opts: JobsOptions) => KitCronJob) {}

  add(name: string, data: CronJobData, opts: JobsOptions): Promise<{ readonly id: string }> {
    return Promise.resolve(this.onAdd(name, data, opts));
  }
}

/**
 * Runs the app's crons on the kit's fake clock, through the production code:
 * each tick is computed by the cron's `CronSchedule` (time zone and daylight
 * saving included), asked of the schedule store before it is enqueued (a
 * paused cron's ticks are not), and run by the production `CronRunPipeline`
 * (catch-up policy, lock and overlap policy, row and fencing token,
 * heartbeats, the user's interceptors and handler, the fenced outcome) with
 * in-memory locks and run store.
 *
 * The kit's scheduler fires each tick at its instant, and its worker takes
 * the job at once, up to `cronConcurrency` jobs at a time. While the worker is
 * stopped ({@link stopWorker}) the jobs wait in the queue, and the catch-up
 * policy judges each at the fake time the worker takes it ({@link startWorker}),
 * as in production after a worker outage. The library's own crons
 * (`tasks.*`) do not tick in the kit.
 */
@Injectable()
export class CronTestDriver implements OnApplicationBootstrap, OnApplicationShutdown {
  /** The kit's cron queue, provided under `CRON_QUEUE_TOKEN`. */
  readonly queue = new KitCronQueue((name, data, opts) => this.add(name, data, opts));
  private readonly pending = new Map<string, KitCronJob>();
  private readonly triggered = new Map<string, KitCronJob>();
  private readonly waiting: KitCronJob[] = [];
  private readonly active = new Map<KitCronJob, JobAbort>();
  private readonly ticks = new Map<string, FakeTimerHandle>();
  private readonly attempts = new Map<string, AttemptRecord[]>();
  private started = false;
  private schedulerRunning = true;
  private workerRunning = true;
  private closed = false;
  private ids = 0;

  constructor(
    private readonly catalog: CronCatalog,
    private readonly pipeline: CronRunPipeline,
    private readonly clock: FakeClock,
    private readonly schedules: InMemoryScheduleStore,
    private readonly runs: InMemoryCronRunStore,
    private readonly locks: InMemoryCronLocks,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly events: TasksEvents,
  ) {}

  /** The production scheduler's steps at a tick (fireTicks) on the kit's schedule store, run store and queue. */
  private readonly firing: TickFiring = {
    beforeTick: (cron, tick, next) => this.schedules.beforeTick(cron.name, tick, next),
    recordMissed: async (cron, missed) => {
      const recorded = new Set(cron.track ? await this.runs.recordMissed(cron.name, missed) : []);
      for (const { tick, reason } of missed) {
        this.events.emit('cron.tick.missed', { cron: cron.name, scheduledAt: new Date(tick), cause: 'catch-up', reason, recorded: recorded.has(tick) });
      }
    },
    enqueue: async (cron, tick) => {
      const data: CronJobData = { name: cron.name, scheduledAt: tick, trigger: 'schedule' };
      await this.queue.add(cron.name, data, cronJobOptions(cron, cronTickJobId(cron.name, tick), this.options));
      this.events.emit('cron.tick.enqueued', { cron: cron.name, scheduledAt: new Date(tick), leader: true });
    },
  };

  onApplicationBootstrap(): Promise<void> {
    return this.start();
  }

  /**
   * Reconciles the schedules with the declared crons (as a scheduler's boot)
   * and arms each cron's first tick after the current fake time. Called at
   * the app's bootstrap, or by the first advance. No tick at or before the
   * start fires (a production scheduler's first boot would still fire a tick
   * at most `cronCatchUpMs` old).
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const now = this.clock.now();
    const crons = this.catalog.all();
    await this.schedules.reconcile(this.catalog.declaredSchedules(now));
    for (const cron of crons) if (!cron.internal) this.arm(cron, cron.schedule.nextTick(now));
  }

  /** The fake time. */
  now(): Date {
    return new Date(this.clock.now());
  }

  /**
   * Moves the fake clock forward by `ms`: fires the ticks in (now, now + ms],
   * each at its instant, and lets the runs they start go as far as they can
   * before the next. Resolves with the rows written meanwhile, oldest tick first.
   */
  advanceBy(ms: number): Promise<CronRun[]> {
    return this.advance(() => this.clock.advanceBy(ms));
  }

  /** {@link advanceBy} to a point in time: the ticks in (now, `target`] fire. */
  advanceTo(target: Date | number): Promise<CronRun[]> {
    return this.advance(() => this.clock.advanceTo(target));
  }

  /**
   * The rows of a cron, oldest tick first, as `cron_job_runs` would hold
   * them (a `track: false` cron has none: see {@link attemptsOf}). Throws
   * `UnknownCronError` for a name the app does not declare and has no rows.
   */
  runsOf(name: string): CronRun[] {
    const runs = this.runs.runsOf(name);
    if (runs.length === 0) this.require(name);
    return runs;
  }

  /** Every attempt the kit's worker ran of a cron, in the order they ended, with the pipeline's outcome (tracked or not). */
  attemptsOf(name: string): CronAttempt[] {
    const attempts = this.attempts.get(name) ?? [];
    if (attempts.length === 0) this.require(name);
    return attempts.map(({ scheduledAt, endedAt, ...attempt }) => ({ ...attempt, scheduledAt: new Date(scheduledAt), endedAt: new Date(endedAt) }));
  }

  /** Stops the kit's worker taking jobs (runs going keep going): ticks wait in the queue, as during a worker outage. */
  stopWorker(): void {
    this.workerRunning = false;
  }

  /**
   * Starts the worker again: it takes the waiting jobs, oldest first, at the
   * current fake time, and the catch-up policy judges each. Resolves with the
   * rows written meanwhile.
   */
  startWorker(): Promise<CronRun[]> {
    return this.advance(async () => {
      this.workerRunning = true;
      this.dispatch();
      await this.clock.settle();
    });
  }

  /**
   * Stops the kit's scheduler, as an outage of every scheduler replica: no
   * tick fires, whatever the clock does, until {@link startScheduler}.
   */
  stopScheduler(): void {
    this.schedulerRunning = false;
    for (const timer of this.ticks.values()) timer.cancel();
    this.ticks.clear();
  }

  /**
   * Starts the scheduler again, as a scheduler's boot: the ticks that fell
   * while it was stopped go through each cron's catch-up policy (fired now,
   * or recorded MISSED, never replayed as a burst), and the next ticks are
   * armed. Resolves with the rows written meanwhile.
   */
  startScheduler(): Promise<CronRun[]> {
    return this.advance(async () => {
      if (this.schedulerRunning) return;
      this.schedulerRunning = true;
      const now = this.clock.now();
      const lastTicks = await this.schedules.reconcile(this.catalog.declaredSchedules(now));
      for (const cron of this.catalog.all()) {
        if (cron.internal) continue;
        const plan = planCatchUp(cron, catchUpAfterBoot(cron, lastTicks.get(cron.name), now, this.options.cronCatchUpMs), now, this.options.cronCatchUpMs);
        const next = cron.schedule.nextTick(now);
        this.clock.track(fireTicks(this.firing, cron, plan.fire, plan.missed, next));
        this.arm(cron, next);
      }
      await this.clock.settle();
    });
  }

  /** Whether the kit's scheduler fires ticks. */
  get schedulerStarted(): boolean {
    return this.schedulerRunning;
  }

  /** Whether the kit's worker takes jobs. */
  get workerStarted(): boolean {
    return this.workerRunning;
  }

  /** Jobs waiting for the worker (a backlog while it is stopped, or beyond `cronConcurrency`). */
  get backlog(): number {
    return this.waiting.length;
  }

  /** Jobs the worker runs now (a handler going, or a `bufferOne` tick waiting for the lock). */
  get running(): number {
    return this.active.size;
  }

  /**
   * Makes the lock of the cron's running run expire, as when Redis stays
   * unreachable past the lock's TTL: its `ctx.signal` aborts with
   * `CronLockLostError`, and the next tick can take the lock. False when no run holds it.
   */
  loseLock(name: string): boolean {
    this.require(name);
    return this.locks.loseLock(name);
  }

  /**
   * Forgets the runs, schedules, waiting jobs and attempts, and arms the
   * ticks again from the current fake time (runs still going are left alone).
   */
  async reset(): Promise<void> {
    for (const timer of this.ticks.values()) timer.cancel();
    this.ticks.clear();
    this.waiting.length = 0;
    this.pending.clear();
    this.triggered.clear();
    this.attempts.clear();
    this.runs.reset();
    this.schedules.reset();
    this.locks.reset();
    this.workerRunning = true;
    this.schedulerRunning = true;
    this.started = false;
    await this.start();
  }

  /** The handle of a job `CronRegistry.trigger()` added. */
  handle(jobId: string): TaskHandle<CronRunOutcome> {
    const job = this.triggered.get(jobId);
    if (!job) throw new Error(`No cron job ${jobId} was triggered in the testing kit`);
    return new KitCronHandle(job, () => this.closed);
  }

  /**
   * The app closes: the worker stops, runs going are aborted as at the end of
   * a shutdown's grace period (`WorkerShutdownAbort`) and given a moment to
   * give up, ticks stop, and `waitResult()` callers stop waiting.
   */
  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.workerRunning = false;
    for (const timer of this.ticks.values()) timer.cancel();
    this.ticks.clear();
    for (const abort of this.active.values()) abort.abort(new WorkerShutdownAbort());
    await this.clock.settle();
    for (const job of [...this.pending.values(), ...this.triggered.values()]) job.abandon();
    this.clock.reset();
  }

  private async advance(move: () => Promise<void>): Promise<CronRun[]> {
    if (this.closed) throw new Error('The testing kit was closed (app.close()): its clock no longer moves');
    await this.start();
    const since = this.runs.version;
    await move();
    return this.runs.changedSince(since);
  }

  private arm(cron: RegisteredCron, tick: number): void {
    this.ticks.set(
      cron.name,
      this.clock.at(tick, () => this.fire(cron, tick)),
    );
  }

  // What a scheduler does at a tick: arm the next, ask the schedule store (pause), enqueue.
  private fire(cron: RegisteredCron, tick: number): void {
    const next = cron.schedule.nextTick(tick);
    this.arm(cron, next);
    this.clock.track(fireTicks(this.firing, cron, [tick], [], next));
  }

  private add(name: string, data: CronJobData, opts: JobsOptions): KitCronJob {
    const id = opts.jobId ?? String(++this.ids);
    const existing = this.pending.get(id);
    if (existing) return existing;
    const job = new KitCronJob(id, name, data, opts);
    this.pending.set(id, job);
    if (data.trigger === 'manual') this.triggered.set(id, job);
    this.waiting.push(job);
    this.dispatch();
    return job;
  }

  private dispatch(): void {
    while (this.workerRunning && this.active.size < this.options.cronConcurrency && this.waiting.length > 0) {
      this.run(this.waiting.shift() as KitCronJob);
    }
  }

  private run(job: KitCronJob): void {
    const abort = new JobAbort();
    job.state = 'active';
    this.active.set(job, abort);
    const work = this.pipeline.run(job, abort).then(
      (outcome) => {
        this.note(job, outcome);
        this.pending.delete(job.id);
        job.finish({ outcome });
      },
      (error: unknown) => this.failed(job, error),
    );
    this.clock.track(
      work.finally(() => {
        this.active.delete(job);
        this.dispatch();
      }),
    );
  }

  // What BullMQ and the worker do with a job whose run threw: back to the queue, a retry after its backoff, or failed for good.
  private failed(job: KitCronJob, error: unknown): void {
    if (error instanceof HandBackRequest) {
      this.note(job, { status: 'HANDED_BACK', reason: error.message });
      job.state = 'waiting';
      if (!this.closed) this.waiting.unshift(job);
      return;
    }
    this.note(job, { status: 'FAILED', error });
    job.attemptsMade++;
    const attempts = job.opts.attempts ?? 1;
    if (!(error instanceof UnrecoverableError) && job.attemptsMade < attempts && !this.closed) {
      job.state = 'delayed';
      this.clock.at(this.clock.now() + retryDelay(job.opts.backoff, job.attemptsMade), () => {
        job.state = 'waiting';
        this.waiting.push(job);
        this.dispatch();
      });
      return;
    }
    this.pending.delete(job.id);
    const reason = error instanceof Error ? error.message : String(error);
    const stack = error instanceof Error ? error.stack : undefined;
    job.finish({ error: new TaskFailedError(`Task "${job.name}" (job ${job.id}) failed after ${job.attemptsMade} attempt(s): ${reason}`, job.name, job.id, job.attemptsMade, stack) });
  }

  private note(job: KitCronJob, outcome: CronAttemptOutcome): void {
    let list = this.attempts.get(job.data.name);
    if (!list) this.attempts.set(job.data.name, (list = []));
    list.push({ jobName: job.data.name, scheduledAt: job.data.scheduledAt, trigger: job.data.trigger, attempt: job.attemptsMade + 1, endedAt: this.clock.now(), outcome });
  }

  private require(name: string): void {
    if (this.catalog.get(name)) return;
    const declared = this.catalog.names();
    throw new UnknownCronError(unknownCron(name, declared), name, declared);
  }
}

/** BullMQ's built-in backoffs, as the cron queue's jobs carry them (`toBullBackoff` of `defaultBackoff`). */
function retryDelay(backoff: JobsOptions['backoff'], attemptsMade: number): number {
  if (backoff === undefined) return 0;
  if (typeof backoff === 'number') return backoff;
  const delay = backoff.delay ?? 0;
  return backoff.type === 'exponential' ? Math.round(2 ** (attemptsMade - 1) * delay) : delay;
}
