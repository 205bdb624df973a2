import { Logger } from '@nestjs/common';
import { WaitingError, Worker, getDefaultBackendFactory, type BackendFactory, type BackoffStrategy, type Job, type RedisQueueBackend } from 'bullmq';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { RedisConnections } from '../redis/redis-connections.js';
import { toKeepJobs } from '../options/bullmq-options.js';
import { HandBackRequest, JobAbort, JobCancelledAbort, WorkerShutdownAbort } from '../task/job-abort.js';
import { publicJobId } from '../task/job-ids.js';
import { taskQueueOf } from '../options/task-queue-names.js';
import { escapeLogText } from '../redaction/escape-log-text.js';
import type { TasksEvents } from '../events/tasks-events.js';
import { workerIsRateLimited } from '../peers/bullmq-internals.js';

/**
 * Runs one job; `abort` fires on the job's timeout and when shutdown hands the
 * job back. `token` is the worker's lock on the job, to move it elsewhere itself.
 */
export type JobProcessor = (job: Job, abort: JobAbort, token: string | undefined) => Promise<unknown>;

interface ActiveJob {
  job: Job;
  token: string | undefined;
  abort: JobAbort;
  /** Set when shutdown starts handing the job back: from then on the handler's own outcome is ignored. */
  handingBack: boolean;
  /** Settles the processor once shutdown has handed the job back to the queue. */
  handBack: () => void;
  /** With `settleBeforeHandBack`: called when the processor settles during a hand-back. */
  onSettled?: (handBack: boolean) => void;
}

export interface QueueConsumerOptions {
  /**
   * At hand-back, abort the job and wait (up to {@link SETTLE_BEFORE_HAND_BACK_MS})
   * for the processor to settle: it hands the job back by throwing
   * {@link HandBackRequest} once it has released what it held, or finishes
   * normally. A processor that does not settle is not handed back.
   */
  settleBeforeHandBack?: boolean;
  /** Whether a job was cancelled just before its run started here (it starts aborted). */
  heardCancelled?: (storedId: string) => boolean;
  /** BullMQ's limiter: at most `max` jobs of the queue start per `duration` ms, across its workers. */
  limiter?: { max: number; duration: number };
  /** BullMQ's custom backoff: how long until a failed job's next attempt, or -1 for none. */
  backoffStrategy?: BackoffStrategy;
}

/** How long a processor with `settleBeforeHandBack` gets, after its abort, to give its job up. */
export const SETTLE_BEFORE_HAND_BACK_MS = 2_000;

/**
 * One BullMQ Worker with graceful shutdown: on drain it stops taking jobs,
 * lets running ones finish within the grace period, and hands any still
 * running back to the queue so another worker runs them at once (rather than
 * after the stalled-job timeout).
 */
export class QueueConsumer {
  private readonly logger = new Logger(QueueConsumer.name);
  private worker?: Worker;
  private readonly active = new Map<string, ActiveJob>();
  /** When the worker last heard from Redis that there was a job, or none: a job started, or a blocking wait returned. */
  private lastPollAt = 0;

  constructor(
    readonly queueName: string,
    private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
    private readonly concurrency: number,
    private readonly processor: JobProcessor,
    private readonly events: TasksEvents,
    private readonly consumerOptions: QueueConsumerOptions = {},
  ) {}

  async startConsuming(): Promise<void> {
    const { prefix, stalledTimeoutMs, keepCompleted, keepFailed } = this.options;
    const options = {
      // Two connections: this one (`<prefix>:tasks:worker:<queue>`), and the one that blocks
      // waiting for jobs, which BullMQ names after the queue (what `queue.getWorkers()` lists).
      connection: this.connections.bullmq('blocking', `worker:${taskQueueOf(this.queueName)}`),
      prefix,
      concurrency: this.concurrency,
      lockDuration: stalledTimeoutMs,
      stalledInterval: stalledTimeoutMs,
      // Retention of finished jobs, for jobs that do not carry their own (TaskClient's
      // do not: set here once rather than stored in every job's hash).
      removeOnComplete: toKeepJobs(keepCompleted),
      removeOnFail: toKeepJobs(keepFailed),
      ...(this.consumerOptions.limiter ? { limiter: this.consumerOptions.limiter } : {}),
      ...(this.consumerOptions.backoffStrategy ? { settings: { backoffStrategy: this.consumerOptions.backoffStrategy } } : {}),
    };
    this.worker = new Worker(this.queueName, (job, token) => this.process(job, token), options, this.pollWatchingBackend());
    this.worker.on('error', (error) => this.logger.error(`Worker error on queue ${this.queueName}: ${this.connections.describe(error)}`));
    await this.worker.waitUntilReady();
    this.lastPollAt = Date.now();
  }

  /** Whether its BullMQ worker is running (not closed, not closing). */
  isRunning(): boolean {
    return this.worker?.isRunning() ?? false;
  }

  /** Aborts the run of job `storedId` if it runs here; false when it does not. */
  cancel(storedId: string): boolean {
    const entry = this.active.get(storedId);
    if (!entry) return false;
    entry.abort.abort(new JobCancelledAbort());
    return true;
  }

  /** For health checks: running, last poll, and whether every slot is busy (a full worker does not poll, and need not). */
  pollState(): { running: boolean; lastPollAt: number; busy: boolean } {
    // A rate-limited worker waits for its limit, not for Redis: it is not expected to poll meanwhile.
    const limited = this.worker ? workerIsRateLimited(this.worker) : false;
    return { running: this.isRunning(), lastPollAt: limited ? Date.now() : this.lastPollAt, busy: this.active.size >= this.concurrency };
  }

  /**
   * BullMQ's default backend (the one the worker would build by itself), whose
   * blocking wait records polls. An idle worker blocks on Redis for a few
   * seconds at a time, through the backend's `waitForJob`; the wait resolves
   * (job or none) while Redis answers, and rejects after an error. Only the
   * answers count as polls, so a worker whose blocking connection fails goes stale.
   */
  private pollWatchingBackend(): BackendFactory<RedisQueueBackend> {
    const build = getDefaultBackendFactory<RedisQueueBackend>();
    return (name, options, extra) => {
      const backend = build(name, options, extra);
      const wait = backend.waitForJob.bind(backend);
      backend.waitForJob = async (blockTimeout) => {
        const found = await wait(blockTimeout);
        this.lastPollAt = Date.now();
        return found;
      };
      return backend;
    };
  }

  async drain(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    if (this.active.size > 0) this.logger.log(`Draining ${this.active.size} running job(s) of queue ${this.queueName}`);
    const closed = worker.close();
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace-over'>((resolve) => {
      graceTimer = setTimeout(() => resolve('grace-over'), this.options.shutdownGraceMs);
    });
    const outcome = await Promise.race([closed.then(() => 'drained' as const), graceOver]);
    clearTimeout(graceTimer);
    if (outcome === 'grace-over') await this.handBackActiveJobs();
    await closed;
  }

  /**
   * One promise per job, settled by the handler or by a hand-back, whichever
   * comes first: this runs for every job, so it avoids the extra promises a
   * Promise.race would cost (docs/benchmarks.md).
   */
  private process(job: Job, token: string | undefined): Promise<unknown> {
    const id = job.id as string;
    this.lastPollAt = Date.now();
    return new Promise((resolve, reject) => {
      const entry: ActiveJob = {
        job,
        token,
        abort: new JobAbort(),
        handingBack: false,
        handBack: () => {
          this.active.delete(id);
          reject(new WaitingError());
        },
      };
      this.active.set(id, entry);
      if (this.consumerOptions.heardCancelled?.(id)) entry.abort.abort(new JobCancelledAbort());
      // The abort that comes with a hand-back usually makes the handler reject
      // first; BullMQ must not record that as a failure of a job that went back.
      const settled = (error?: unknown): boolean => {
        this.active.delete(id);
        if (!entry.handingBack) return true;
        if (!entry.onSettled) return false;
        const handBack = error instanceof HandBackRequest;
        entry.onSettled(handBack);
        return !handBack;
      };
      let running: Promise<unknown>;
      try {
        running = this.processor(job, entry.abort, token);
      } catch (error) {
        running = Promise.reject(error as Error);
      }
      running.then(
        (result) => settled() && resolve(result),
        (error: unknown) => settled(error) && reject(error as Error),
      );
    });
  }

  private async handBackActiveJobs(): Promise<void> {
    const jobs = [...this.active.values()];
    this.logger.warn(`Grace period over: handing ${jobs.length} running job(s) of queue ${this.queueName} back`);
    await Promise.all(
      jobs.map(async (entry) => {
        const { job, token, abort, handBack } = entry;
        if (this.consumerOptions.settleBeforeHandBack) {
          const wanted = await this.settle(entry);
          if (wanted === 'finished') return;
          if (wanted === 'still-running') {
            this.logger.error(
              `Job ${jobLabel(job, this.queueName)} still runs ${SETTLE_BEFORE_HAND_BACK_MS} ms after its abort: ` +
                `not handed back; stalled-job recovery takes it once this process is gone`,
            );
            handBack();
            return;
          }
        } else {
          entry.handingBack = true;
          abort.abort(new WorkerShutdownAbort());
        }
        try {
          await job.moveToWait(token);
          this.events.emit('job.handedBack', { queue: this.queueName, jobId: publicJobId(job.id as string, this.queueName), jobName: job.name });
          this.logger.warn(`Job ${jobLabel(job, this.queueName)} handed back to the queue`);
        } catch (error) {
          // The lock will expire and stalled-job recovery will rerun it.
          this.logger.error(`Could not hand job ${jobLabel(job, this.queueName)} back: ${(error as Error).message}`);
        }
        handBack();
      }),
    );
  }

  /** Aborts the job and waits for its processor to settle: with a hand-back request, its own outcome, or not at all. */
  private settle(entry: ActiveJob): Promise<'hand-back' | 'finished' | 'still-running'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('still-running'), SETTLE_BEFORE_HAND_BACK_MS);
      entry.onSettled = (handBack) => {
        clearTimeout(timer);
        resolve(handBack ? 'hand-back' : 'finished');
      };
      entry.handingBack = true;
      entry.abort.abort(new WorkerShutdownAbort());
    });
  }
}

/** A job in a log line: its public id and name, escaped (a chosen id and a producer's name come from outside). */
export function jobLabel(job: Job, queueName: string): string {
  return `${escapeLogText(publicJobId(job.id as string, queueName))} (${escapeLogText(job.name)})`;
}
