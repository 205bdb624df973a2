import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { TASKS_OPTIONS, TASKS_QUEUE } from '../tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { redisOptionsFromUrl } from '../redis/redis-connection.js';
import { TaskRegistry } from '../registry/task.registry.js';
import { unknownTaskOnWorker } from '../tasks.messages.js';
import { TaskRunner } from './task-runner.js';

interface ActiveJob {
  job: Job;
  token: string | undefined;
  controller: AbortController;
  /** Settles the processor once shutdown has handed the job back to the queue. */
  handBack: () => void;
}

/**
 * Owns the BullMQ Worker. It exists in every app that imports TasksModule but
 * consumes only after `start()` (called by `runWorker`), so an api that shares
 * the worker's modules never runs tasks.
 */
@Injectable()
export class TaskWorkerHost implements BeforeApplicationShutdown {
  private readonly logger = new Logger('TaskWorker');
  private worker?: Worker;
  private readonly active = new Map<string, ActiveJob>();

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly registry: TaskRegistry,
    private readonly runner: TaskRunner,
  ) {}

  get running(): boolean {
    return this.worker !== undefined;
  }

  async start(): Promise<void> {
    if (this.worker) return;
    const { prefix, concurrency, stalledTimeoutMs, redisUrl } = this.options;
    this.worker = new Worker(TASKS_QUEUE, (job, token) => this.process(job, token), {
      connection: redisOptionsFromUrl(redisUrl),
      prefix,
      concurrency,
      lockDuration: stalledTimeoutMs,
      stalledInterval: stalledTimeoutMs,
    });
    this.worker.on('error', (error) => this.logger.error(`Worker error: ${error.message}`));
    await this.worker.waitUntilReady();
    this.logger.log(
      `Consuming ${this.registry.names().length} task(s) [${this.registry.names().join(', ')}] ` +
        `with concurrency ${concurrency} under prefix "${prefix}"`,
    );
  }

  /**
   * Drains before the queues close (they close in onApplicationShutdown): no
   * new jobs are taken, running ones get `shutdownGraceMs` to finish, and any
   * still running then are handed back to the queue for another worker.
   */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    this.logger.log(`Shutting down (${signal ?? 'close'}): draining ${this.active.size} running job(s)`);
    const closed = worker.close();
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace-over'>((resolve) => {
      graceTimer = setTimeout(() => resolve('grace-over'), this.options.shutdownGraceMs);
    });
    const outcome = await Promise.race([closed.then(() => 'drained' as const), graceOver]);
    clearTimeout(graceTimer);
    if (outcome === 'grace-over') await this.handBackActiveJobs();
    await closed;
    this.logger.log('Worker closed');
  }

  private async process(job: Job, token: string | undefined): Promise<unknown> {
    const task = this.registry.get(job.name);
    if (!task) {
      const message = unknownTaskOnWorker(job.name, this.registry.names());
      this.logger.error(message);
      throw new UnrecoverableError(message);
    }
    const controller = new AbortController();
    let handBack!: () => void;
    const handedBack = new Promise<never>((_, reject) => {
      handBack = () => reject(new WaitingError());
    });
    this.active.set(job.id as string, { job, token, controller, handBack });
    try {
      return await Promise.race([this.runner.run({ task, job, controller }), handedBack]);
    } finally {
      this.active.delete(job.id as string);
    }
  }

  private async handBackActiveJobs(): Promise<void> {
    const jobs = [...this.active.values()];
    this.logger.warn(`Grace period over: handing ${jobs.length} running job(s) back to the queue`);
    await Promise.all(
      jobs.map(async ({ job, token, controller, handBack }) => {
        controller.abort(new Error('Worker is shutting down; the job was handed back to the queue'));
        try {
          await job.moveToWait(token);
          this.logger.warn(`Job ${job.id} (${job.name}) handed back to the queue`);
        } catch (error) {
          // The lock will expire and stalled-job recovery will rerun it.
          this.logger.error(`Could not hand job ${job.id} back: ${(error as Error).message}`);
        }
        handBack();
      }),
    );
  }
}
