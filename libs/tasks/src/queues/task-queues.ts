import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { JobOutcomeListener } from './job-outcome.listener.js';
import { DEFAULT_TASK_QUEUE, bullQueueName } from '../options/task-queue-names.js';
import { QueueFactory } from './queue-factory.js';
import { TaskCatalog } from '../task/task.catalog.js';

/**
 * The BullMQ queues of the task queues, one per name, opened on first use
 * (`default` at once, so `TASKS_QUEUE_TOKEN` can be injected); the
 * {@link QueueFactory} builds them, each with one result listener for every
 * `waitResult()` of the process.
 *
 * An opened queue stays open for the life of the process, and its result
 * listener's reader (a connection) too once a wait opened it, so only the
 * app's code opens one: enqueueing, or its configuration. A lookup by job id,
 * whose queue part may come from anyone, only finds queues the app knows
 * ({@link find}).
 */
@Injectable()
export class TaskQueues {
  private readonly open = new Map<string, Queue>();

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly factory: QueueFactory,
    private readonly catalog: TaskCatalog,
  ) {
    this.queue(DEFAULT_TASK_QUEUE);
  }

  /** The queues whose depth the metrics report: every queue this app's tasks are on, and any opened since. */
  sampled(): Queue[] {
    return [...new Set([...this.catalog.byQueue().keys(), ...this.open.keys()])].map((name) => this.queue(name));
  }

  /** Every task queue this app knows of, `default` first, then by name: those its tasks are on, those `forRoot({ queues })` names, and any opened since. */
  all(): Queue[] {
    return this.names().map((name) => this.queue(name));
  }

  /** The names of the queues of `all()`. */
  names(): string[] {
    const names = new Set([...this.catalog.byQueue().keys(), ...Object.keys(this.options.queues), ...this.open.keys()]);
    names.delete(DEFAULT_TASK_QUEUE);
    return [DEFAULT_TASK_QUEUE, ...[...names].sort()];
  }

  /** The BullMQ queue of task queue `name`, opened if need be (for the app's own code: enqueue, configuration). */
  queue(name: string): Queue {
    let queue = this.open.get(name);
    if (!queue) {
      queue = this.factory.queue(bullQueueName(name));
      this.open.set(name, queue);
    }
    return queue;
  }

  /**
   * The queue of `name` when the app knows it: `default`, a queue of its
   * tasks or of `forRoot({ queues })`, or one opened since (`registerQueues()`
   * opens its queues at start-up, enqueueing opens the queue it adds to);
   * else undefined, and nothing is opened.
   */
  find(name: string): Queue | undefined {
    const open = this.open.get(name);
    if (open) return open;
    const known = Object.hasOwn(this.options.queues, name) || this.catalog.byQueue().has(name);
    return known ? this.queue(name) : undefined;
  }

  /** The result listener of task queue `name`. */
  outcomes(name: string): JobOutcomeListener {
    return this.factory.outcomes(this.queue(name).name);
  }

  /** The queues opened so far (the default one always), by task queue name. */
  opened(): Map<string, Queue> {
    return new Map(this.open);
  }
}
