import { getQueueToken } from '@nestjs/bullmq';
import { assertQueueName, bullQueueName } from './task-queue-names.js';

/**
 * BullMQ name of the queue that carries every task (its Redis keys are
 * `${prefix}:tasks.default:*`). Namespaced, so it cannot clash with a queue
 * the application registers itself.
 */
export const TASKS_QUEUE = 'tasks.default';

/** BullMQ name of the queue that carries cron runs, apart from tasks so a task backlog never delays a tick. */
export const CRON_QUEUE = 'tasks.cron';

/** Injection token of the task queue, e.g. to mount it in Bull Board: `@Inject(TASKS_QUEUE_TOKEN) queue: Queue`. */
export const TASKS_QUEUE_TOKEN: string = getQueueToken(TASKS_QUEUE);

/** Injection token of the cron queue. */
export const CRON_QUEUE_TOKEN: string = getQueueToken(CRON_QUEUE);

/**
 * Injection token of the BullMQ queue of task queue `queue` (`'reports'` →
 * the queue `tasks.reports`): `@Inject(tasksQueueToken('reports')) queue: Queue`.
 * It is `@nestjs/bullmq`'s token of that queue, so `@InjectQueue('tasks.reports')`
 * and Bull Board's `BullBoardModule.forFeature({ name: 'tasks.reports', ... })`
 * find the same queue. Provided for `default`, `cron`, the queues named in
 * `TasksModule.forRoot({ queues })`, and those of `TasksModule.registerQueues(...)`.
 */
export function tasksQueueToken(queue: string): string {
  if (queue !== 'cron') assertQueueName('tasksQueueToken()', queue);
  return getQueueToken(bullQueueName(queue));
}

/** The resolved options (every default filled in). Internal. */
export const TASKS_OPTIONS = Symbol('nestjs-tasks:options');

export const TASK_METADATA = 'nestjs-tasks:task';
export const CRON_METADATA = 'nestjs-tasks:cron';
