/** Name of the BullMQ queue that carries every task; inject it with `@InjectQueue(TASKS_QUEUE)`. */
export const TASKS_QUEUE = 'tasks';

/** Injection token of the resolved {@link ResolvedTasksOptions}. */
export const TASKS_OPTIONS = Symbol('TASKS_OPTIONS');
export const TASKS_USER_OPTIONS = Symbol('TASKS_USER_OPTIONS');

export const TASK_METADATA = 'tasks:task';

/** Name of the BullMQ queue that carries cron runs, apart from tasks so a task backlog never delays a tick. */
export const CRON_QUEUE = 'cron';

export const CRON_METADATA = 'tasks:cron';
