import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { CRON_QUEUE, TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { QueueRateLimit, ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TaskCatalog } from '../task/task.catalog.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { CronRunPipeline } from './cron-run-pipeline.js';
import { CronRunStore } from '../tracking/cron-run.store.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { invalidTaskOption, lacksHandlers, noTaskOnQueue, unknownTaskOnWorker } from '../errors/tasks.messages.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { DEFAULT_TASK_QUEUE, assertQueueName, bullQueueName } from '../options/task-queue-names.js';
import { DeployedTasks, lackedTasks, type ConsumedTasks } from '../queues/deployed-tasks.js';
import { CANCELLED_REASON, JobCancellation } from '../queues/job-cancellation.js';
import { TaskRunner } from './task-runner.js';
import { QueueConsumer, jobLabel } from './queue-consumer.js';
import { RunLogContext } from '../observability/run-log-context.js';
import { escapeLogText } from '../redaction/escape-log-text.js';
import { assertPeersInstalled } from '../peers/optional-peers.js';
import { JobCancelledAbort, type JobAbort } from '../task/job-abort.js';
import { holdBackDelayMs } from './hold-back.js';
import { TasksEvents } from '../events/tasks-events.js';

/** Which task queues a worker consumes: `['reports']`, or `{ reports: 2, mail: 20 }` with a concurrency each. */
export interface WorkerQueueSelection {
  /** Default: every queue one of the app's tasks is on. */
  queues?: readonly string[] | Readonly<Record<string, number | undefined>>;
}

/**
 * Consumes the task and cron queues. It exists in every app that imports
 * TasksModule but consumes only after `startConsuming()` (called by `runWorker`), so
 * an api that shares the worker's modules never runs tasks.
 */
@Injectable()
export class TaskWorkerHost implements BeforeApplicationShutdown {
  private readonly logger = new Logger(TaskWorkerHost.name);
  private consumers: QueueConsumer[] = [];

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
    private readonly tasks: TaskCatalog,
    private readonly runner: TaskRunner,
    private readonly crons: CronCatalog,
    private readonly cronPipeline: CronRunPipeline,
    private readonly runs: CronRunStore,
    private readonly logContext: RunLogContext,
    private readonly events: TasksEvents,
    private readonly deployed: DeployedTasks,
    private readonly cancellation: JobCancellation,
  ) {}

  get running(): boolean {
    return this.consumers.length > 0;
  }

  /** The queues consumed, each with whether its BullMQ worker is running; empty before `startConsuming()` and after shutdown. */
  consumerStates(): { queue: string; running: boolean; lastPollAt: number; busy: boolean }[] {
    return this.consumers.map((consumer) => ({ queue: consumer.queueName, ...consumer.pollState() }));
  }

  /**
   * Checks what running jobs needs (nestjs-pino; for tracked crons the
   * tracking database) and which queues to consume, then consumes. `queues` names the
   * task queues (optionally with a concurrency each); by default every queue
   * one of this app's tasks is on. Tasks other running workers run from these
   * queues and this one lacks (a rolling deploy) are logged, once each: their
   * jobs wait for those workers.
   */
  async startConsuming(selection: WorkerQueueSelection = {}): Promise<void> {
    if (this.running) return;
    const hasCrons = this.crons.all().length > 0;
    // Untracked crons alone need no database.
    const tracksCrons = this.crons.all().some((cron) => cron.track);
    // Missing packages first: a missing module is named next, once they are installed.
    assertPeersInstalled('logContext');
    if (tracksCrons) assertPeersInstalled('tracking');
    await this.logContext.connect();
    const { prefix, cronConcurrency } = this.options;
    const plan = this.planQueues(selection);
    const consumed: ConsumedTasks = Object.fromEntries(plan.map(({ queue, tasks }) => [queue, tasks]));
    const lacking = lackedTasks(await this.deployed.others(), consumed);
    if (lacking.length > 0) this.logger.warn(lacksHandlers(lacking));
    const consumers = plan.map(
      ({ queue, concurrency, rateLimit }) => {
        const bullQueue = bullQueueName(queue);
        return new QueueConsumer(bullQueue, this.options, this.connections, concurrency, (job, abort, token) => this.runTask(queue, job, abort, token), this.events, {
          // Called for every job: the queue's name is built once, here.
          heardCancelled: (id) => this.cancellation.heardOf(bullQueue, id),
          backoffStrategy: this.runner.backoffStrategy,
          ...(rateLimit ? { limiter: { max: rateLimit.max, duration: rateLimit.durationMs } } : {}),
        });
      },
    );
    await this.cancellation.listen((bullQueue, id) => {
      for (const consumer of this.consumers) if (consumer.queueName === bullQueue) consumer.cancel(id);
    });
    if (hasCrons) {
      if (tracksCrons) await this.runs.connect();
      // A cron run handed back at shutdown first settles its row, so that another worker reclaims it.
      consumers.push(
        new QueueConsumer(CRON_QUEUE, this.options, this.connections, cronConcurrency, (job, abort) => this.cronPipeline.run(job, abort), this.events, {
          settleBeforeHandBack: true,
        }),
      );
    }
    // Listed before it takes a job: a worker lacking one of its tasks then holds the job back for it.
    await this.deployed.advertise(consumed);
    await Promise.all(consumers.map((c) => c.startConsuming()));
    this.consumers = consumers;
    const queues = plan.map(({ queue, concurrency, rateLimit }) =>
      `${queue} (concurrency ${concurrency}${rateLimit ? `, at most ${rateLimit.max} per ${rateLimit.durationMs} ms` : ''})`,
    );
    this.logger.log(
      `Consuming ${this.tasks.names().length} task(s) [${this.tasks.names().join(', ')}] and ` +
        `${this.crons.names().length} cron job(s) [${this.crons.names().join(', ')}] ` +
        `from queue(s) ${queues.join(', ')} (crons ${cronConcurrency}) under prefix "${prefix}"`,
    );
  }

  /** The task queues to consume, each with its tasks, concurrency and rate limit; fails fast on a queue none of its tasks is on. */
  private planQueues(selection: WorkerQueueSelection): { queue: string; tasks: string[]; concurrency: number; rateLimit?: QueueRateLimit }[] {
    const local = this.tasks.byQueue();
    const chosen = selection.queues;
    const counts: Record<string, number | undefined> = Array.isArray(chosen)
      ? Object.fromEntries((chosen as readonly string[]).map((queue) => [queue, undefined]))
      : { ...(chosen as Readonly<Record<string, number | undefined>> | undefined) };
    const names = chosen === undefined ? (local.size > 0 ? [...local.keys()].sort() : [DEFAULT_TASK_QUEUE]) : Object.keys(counts);
    for (const queue of names) {
      assertQueueName('runWorker({ queues })', queue);
      if (chosen !== undefined && !local.has(queue)) throw new TasksConfigurationError(noTaskOnQueue(queue, local));
      const count = counts[queue];
      if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
        throw new TasksConfigurationError(invalidTaskOption('runWorker({ queues })', queue, count, 'a positive integer (its concurrency)'));
      }
    }
    return names.map((queue) => {
      const declared = this.options.queues[queue] ?? {};
      return { queue, tasks: local.get(queue) ?? [], concurrency: counts[queue] ?? declared.concurrency ?? this.options.concurrency, rateLimit: declared.rateLimit };
    });
  }

  /** Drains before the queues close (they close in onApplicationShutdown). */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    // As it stops taking jobs, so that other workers stop holding jobs back for this one.
    const withdrawn = this.deployed.withdraw();
    if (!this.running) return withdrawn;
    this.logger.log(`Shutting down (${signal ?? 'close'})`);
    const consumers = this.consumers;
    this.consumers = [];
    await Promise.all([withdrawn, ...consumers.map((c) => c.drain())]);
    this.logger.log('Worker closed');
  }

  private runTask(queue: string, job: Job, abort: JobAbort, token: string | undefined): Promise<unknown> {
    const task = this.tasks.get(job.name);
    if (task?.queue === queue) return this.runner.run({ task, job, abort });
    return this.holdBackOrFail(queue, job, abort, token, task?.queue);
  }

  /**
   * A job of a task this worker does not run from `queue`: while another
   * running worker does, or another running app has the task there (its
   * workers are on their way), the job goes back to the queue (delayed, its
   * attempts untouched); once no running app has it, it fails without retries.
   */
  private async holdBackOrFail(queue: string, job: Job, abort: JobAbort, token: string | undefined, ownQueue: string | undefined): Promise<never> {
    const holder = await this.deployed.whoHas(job.name, queue);
    // Cancelled meanwhile: a job held back would run later on the other worker regardless.
    if (abort.reason instanceof JobCancelledAbort) throw new UnrecoverableError(CANCELLED_REASON);
    if (holder) {
      const delayMs = holdBackDelayMs(job.attemptsStarted - job.attemptsMade);
      await job.moveToDelayed(Date.now() + delayMs, token);
      const waitsFor = holder === 'worker' ? 'a worker that has its task' : 'a worker for its task, which a running app has';
      this.logger.debug(`Job ${jobLabel(job, job.queueName)} waits ${delayMs} ms for ${waitsFor}`);
      throw new DelayedError();
    }
    // The name is whatever the producer (or anyone with access to Redis) wrote.
    const message = unknownTaskOnWorker(escapeLogText(job.name), queue, this.tasks.names(), ownQueue);
    this.logger.error(message);
    throw new UnrecoverableError(message);
  }
}
