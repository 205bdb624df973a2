import { TasksConfigurationError } from '../errors/tasks.errors.js';

/** The queue of a task that names none. */
export const DEFAULT_TASK_QUEUE = 'default';

/** Names the library keeps for itself (`tasks.cron` carries cron runs). */
const RESERVED = new Set(['cron']);
const QUEUE_NAME = /^[a-z][a-z0-9-]{0,47}$/;

/** Why `name` cannot be a task queue's name, or undefined when it can. */
export function queueNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !QUEUE_NAME.test(name)) {
    return `${JSON.stringify(name)} is not a queue name: use 1-48 lowercase letters, digits or "-", starting with a letter (e.g. "reports")`;
  }
  if (RESERVED.has(name)) return `"${name}" is the library's own queue; choose another name`;
  return undefined;
}

/** Throws, naming `where`, when `name` cannot be a task queue's name. */
export function assertQueueName(where: string, name: unknown): string {
  const problem = queueNameProblem(name);
  if (problem) throw new TasksConfigurationError(`${where}: ${problem}.`);
  return name as string;
}

/**
 * The BullMQ queue of a task queue: `tasks.<name>`, so it never clashes with
 * the application's own queues (`bullQueueName('cron')` is `tasks.cron`, the
 * queue of cron runs), e.g. for Bull Board's `BullBoardModule.forFeature({ name })`.
 */
export function bullQueueName(queue: string): string {
  return `tasks.${queue}`;
}

/** The task queue of a BullMQ queue name (`tasks.reports` → `reports`). */
export function taskQueueOf(bullName: string): string {
  return bullName.startsWith('tasks.') ? bullName.slice('tasks.'.length) : bullName;
}
