import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { CRON_QUEUE, TASKS_OPTIONS, TASKS_QUEUE } from '../tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TaskRegistry } from '../registry/task.registry.js';
import { CronRegistry } from '../cron/cron.registry.js';
import { CronRunner } from '../cron/cron-runner.js';
import { CronRunTracker } from '../tracking/cron-run.tracker.js';
import { unknownTaskOnWorker } from '../tasks.messages.js';
import { TaskRunner } from './task-runner.js';
import { QueueConsumer } from './queue-consumer.js';
import type { JobAbort } from './job-abort.js';

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
    private readonly registry: TaskRegistry,
    private readonly runner: TaskRunner,
    private readonly crons: CronRegistry,
    private readonly cronRunner: CronRunner,
    private readonly tracker: CronRunTracker,
  ) {}

  get running(): boolean {
    return this.consumers.length > 0;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { prefix, concurrency } = this.options;
    const consumers = [new QueueConsumer(TASKS_QUEUE, this.options, concurrency, (job, c) => this.runTask(job, c), this.logger)];
    if (this.crons.all().length > 0) {
      this.tracker.assertReady();
      consumers.push(
        new QueueConsumer(CRON_QUEUE, this.options, concurrency, (job, c) => this.cronRunner.run(job, c), this.logger),
      );
    }
    await Promise.all(consumers.map((consumer) => consumer.start()));
    this.consumers = consumers;
    this.logger.log(
      `Consuming ${this.registry.names().length} task(s) [${this.registry.names().join(', ')}] and ` +
        `${this.crons.names().length} cron job(s) [${this.crons.names().join(', ')}] ` +
        `with concurrency ${concurrency} under prefix "${prefix}"`,
    );
  }

  /** Drains before the queues close (they close in onApplicationShutdown). */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (!this.running) return;
    this.logger.log(`Shutting down (${signal ?? 'close'})`);
    const consumers = this.consumers;
    this.consumers = [];
    await Promise.all(consumers.map((consumer) => consumer.drain()));
    this.logger.log('Worker closed');
  }

  private runTask(job: Job, abort: JobAbort): Promise<unknown> {
    const task = this.registry.get(job.name);
    if (!task) {
      const message = unknownTaskOnWorker(job.name, this.registry.names());
      this.logger.error(message);
      throw new UnrecoverableError(message);
    }
    return this.runner.run({ task, job, abort });
  }
}
