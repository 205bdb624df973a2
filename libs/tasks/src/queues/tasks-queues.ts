import { Inject, Injectable, Module, type DynamicModule, type FactoryProvider } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { CRON_QUEUE_TOKEN, tasksQueueToken } from '../options/tasks.constants.js';
import { DEFAULT_TASK_QUEUE, assertQueueName, queueNameProblem } from '../options/task-queue-names.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { queueNotKnown } from '../errors/tasks.messages.js';
import { TaskQueues } from './task-queues.js';

/**
 * The library's BullMQ queues, for Bull Board or an admin page of your own:
 * the very `Queue` objects `TaskClient` adds jobs to. Inject it anywhere in an
 * app that imports `TasksModule`.
 *
 * ```ts
 * // Bull Board: every queue, whichever tasks the app has
 * constructor(@InjectBullBoard() private readonly board: BullBoardInstance, private readonly queues: TasksQueues) {}
 * onApplicationBootstrap() { for (const queue of this.queues.all()) this.board.addQueue(new BullMQAdapter(queue)); }
 * ```
 */
@Injectable()
export class TasksQueues {
  /** @internal Built by Nest's injector. */
  constructor(
    private readonly queues: TaskQueues,
    @Inject(CRON_QUEUE_TOKEN) private readonly cronQueue: Queue,
  ) {}

  /**
   * The BullMQ queue of task queue `name` (`'reports'` → `tasks.reports`);
   * `'cron'` is the queue of cron runs. Throws on a name no queue can have,
   * and on a queue the app does not know: none of its tasks is on it (tasks
   * are found when the app's modules initialise), `forRoot({ queues })` and
   * `registerQueues()` do not name it, and it has not enqueued to it.
   */
  get(name: string): Queue {
    if (name === 'cron') return this.cronQueue;
    const queue = this.queues.find(assertQueueName('TasksQueues.get()', name));
    if (!queue) throw new TasksConfigurationError(queueNotKnown('TasksQueues.get()', name));
    return queue;
  }

  /** @internal The queue of a name the app's configuration declares (`registerQueues()`, `forRoot({ queues })`), opened now. */
  declared(name: string): Queue {
    return this.queues.queue(name);
  }

  /**
   * Every queue of the library this app knows of: `tasks.default` first;
   * then, by name, the queue of each of its tasks (found when the app's
   * modules initialise, so call it from `onApplicationBootstrap` or later),
   * each queue named in `TasksModule.forRoot({ queues })` and any opened
   * since (e.g. by enqueueing to it); `tasks.cron` last.
   */
  all(): Queue[] {
    return [...this.queues.all(), this.cronQueue];
  }
}

/** The providers of `tasksQueueToken(name)` for task queues other than `default` (which `@nestjs/bullmq` provides). */
export function taskQueueProviders(names: Iterable<string>): FactoryProvider<Queue>[] {
  return [...new Set(names)]
    .filter((name) => name !== DEFAULT_TASK_QUEUE && queueNameProblem(name) === undefined)
    .map((name) => ({ provide: tasksQueueToken(name), useFactory: (queues: TasksQueues) => queues.declared(name), inject: [TasksQueues] }));
}

/** Holds the queue providers of `TasksModule.registerQueues()`. */
@Module({})
export class TaskQueueTokensModule {
  static register(names: readonly string[]): DynamicModule {
    for (const name of names) assertQueueName('TasksModule.registerQueues()', name);
    const providers = taskQueueProviders(names);
    // Global, as the tokens TasksModule.forRoot provides are.
    return { module: TaskQueueTokensModule, global: true, providers, exports: providers.map((provider) => provider.provide) };
  }
}
