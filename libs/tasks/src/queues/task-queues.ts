import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { TASKS_OPTIONS, TASKS_QUEUE_TOKEN } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { QueueErrorListeners } from '../redis/queue-error-listeners.js';
import { JobOutcomeListener } from './job-outcome.listener.js';
import { DEFAULT_TASK_QUEUE, bullQueueName } from '../options/task-queue-names.js';
import { JobCancellation } from './job-cancellation.js';
import { TaskCatalog } from '../task/task.catalog.js';

interface OpenQueue {
  queue: Queue;
  outcomes: JobOutcomeListener;
  /** Built here (not by @nestjs/bullmq), so closed here. */
  owned: boolean;
}

/**
 * The BullMQ queues of the task queues, one per name, opened on first use:
 * the default one is @nestjs/bullmq's (so `TASKS_QUEUE_TOKEN` can be
 * injected), the others are built on the library's connection settings. Each
 * has one result listener for every `waitResult()` of the process.
 *
 * Each opened queue holds a Redis connection (and its result listener another)
 * for the life of the process, so only the app's code opens one: enqueueing,
 * or its configuration. A lookup by job id, whose queue part may come from
 * anyone, only finds queues the app knows ({@link find}).
 */
@Injectable()
export class TaskQueues implements OnApplicationShutdown {
  private readonly open = new Map<string, OpenQueue>();

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_QUEUE_TOKEN) defaultQueue: Queue,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
    private readonly errorListeners: QueueErrorListeners,
    private readonly cancellation: JobCancellation,
    private readonly catalog: TaskCatalog,
  ) {
    this.open.set(DEFAULT_TASK_QUEUE, { queue: defaultQueue, outcomes: this.listenerOf(defaultQueue), owned: false });
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

  private listenerOf(queue: Queue): JobOutcomeListener {
    return new JobOutcomeListener(queue, this.connections, (id) => this.cancellation.isCancelled(queue.name, id));
  }

  /** The BullMQ queue of task queue `name`, opened if need be (for the app's own code: enqueue, configuration). */
  queue(name: string): Queue {
    return this.entry(name).queue;
  }

  /**
   * The queue of `name` when the app knows it: `default`, a queue of its
   * tasks or of `forRoot({ queues })`, or one opened since (`registerQueues()`
   * opens its queues at start-up, enqueueing opens the queue it adds to);
   * else undefined, and nothing is opened.
   */
  find(name: string): Queue | undefined {
    const open = this.open.get(name);
    if (open) return open.queue;
    const known = Object.hasOwn(this.options.queues, name) || this.catalog.byQueue().has(name);
    return known ? this.queue(name) : undefined;
  }

  /** The result listener of task queue `name`. */
  outcomes(name: string): JobOutcomeListener {
    return this.entry(name).outcomes;
  }

  /** The queues opened so far (the default one always), by task queue name. */
  opened(): Map<string, Queue> {
    return new Map([...this.open].map(([name, entry]) => [name, entry.queue]));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      [...this.open.values()].map(async ({ queue, outcomes, owned }) => {
        await outcomes.close();
        if (owned) await queue.close();
      }),
    );
  }

  private entry(name: string): OpenQueue {
    let entry = this.open.get(name);
    if (!entry) {
      const queue = new Queue(bullQueueName(name), { connection: this.connections.bullmq('command'), prefix: this.options.prefix });
      this.errorListeners.listen(queue);
      entry = { queue, outcomes: this.listenerOf(queue), owned: true };
      this.open.set(name, entry);
    }
    return entry;
  }
}
