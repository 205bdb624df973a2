import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { CRON_QUEUE, TASKS_OPTIONS, TASKS_QUEUE } from '../module/tasks.constants.js';
import type { ResolvedTasksOptions } from '../module/tasks-options.interface.js';
import { TaskCatalog } from '../task/task.catalog.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { CronRunPipeline } from '../cron/cron-run-pipeline.js';
import { CronRunTracker } from '../tracking/cron-run.tracker.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { unknownTaskOnWorker } from '../tasks.messages.js';
import { TaskRunner } from './task-runner.js';
import { QueueConsumer } from './queue-consumer.js';
import { RunLogContext } from '../logging/run-log-context.js';
import { assertPeersInstalled } from '../peers/optional-peers.js';
import type { JobAbort } from './job-abort.js';
import { TasksMetrics } from '../metrics/tasks-metrics.js';

/**
 * Consumes the task and cron queues. It exists in every app that imports
 * TasksModule but consumes only after `start()` (called by `runWorker`), so
 * an api that shares the worker's modules never runs tasks.
 */
@Injectable()
export class TaskWorkerHost implements BeforeApplicationShutdown {
  private readonly logger = new Logger('TaskWorker');
  private consumers: QueueConsumer[] = [];

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
    private readonly tasks: TaskCatalog,
    private readonly runner: TaskRunner,
    private readonly crons: CronCatalog,
    private readonly cronPipeline: CronRunPipeline,
    private readonly tracker: CronRunTracker,
    private readonly logContext: RunLogContext,
    private readonly metrics: TasksMetrics,
  ) {}

  get running(): boolean {
    return this.consumers.length > 0;
  }

  /** The queues consumed, each with whether its BullMQ worker is running; empty before `start()` and after shutdown. */
  consumerStates(): { queue: string; running: boolean; lastPollAt: number; busy: boolean }[] {
    return this.consumers.map((consumer) => ({ queue: consumer.queueName, ...consumer.pollState() }));
  }

  /** Checks what running jobs needs (nestjs-pino; for crons the tracking database), then consumes. */
  async start(): Promise<void> {
    if (this.running) return;
    const hasCrons = this.crons.all().length > 0;
    // Missing packages first: a missing module is named next, once they are installed.
    assertPeersInstalled('logContext');
    if (hasCrons) assertPeersInstalled('tracking');
    await this.logContext.connect();
    const { prefix, concurrency, cronConcurrency } = this.options;
    const consumers = [
      new QueueConsumer(TASKS_QUEUE, this.options, this.connections, concurrency, (job, abort) => this.runTask(job, abort), this.logger, this.metrics),
    ];
    if (hasCrons) {
      await this.tracker.connect();
      // A cron run handed back at shutdown first settles its row, so that another worker reclaims it.
      consumers.push(
        new QueueConsumer(CRON_QUEUE, this.options, this.connections, cronConcurrency, (job, abort) => this.cronPipeline.run(job, abort), this.logger, this.metrics, {
          settleBeforeHandBack: true,
        }),
      );
    }
    await Promise.all(consumers.map((c) => c.start()));
    this.consumers = consumers;
    this.logger.log(
      `Consuming ${this.tasks.names().length} task(s) [${this.tasks.names().join(', ')}] and ` +
        `${this.crons.names().length} cron job(s) [${this.crons.names().join(', ')}] ` +
        `with concurrency ${concurrency} (crons ${cronConcurrency}) under prefix "${prefix}"`,
    );
  }

  /** Drains before the queues close (they close in onApplicationShutdown). */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (!this.running) return;
    this.logger.log(`Shutting down (${signal ?? 'close'})`);
    const consumers = this.consumers;
    this.consumers = [];
    await Promise.all(consumers.map((c) => c.drain()));
    this.logger.log('Worker closed');
  }

  private runTask(job: Job, abort: JobAbort): Promise<unknown> {
    const task = this.tasks.get(job.name);
    if (!task) {
      const message = unknownTaskOnWorker(job.name, this.tasks.names());
      this.logger.error(message);
      throw new UnrecoverableError(message);
    }
    return this.runner.run({ task, job, abort });
  }
}
