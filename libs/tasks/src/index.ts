// The public surface of @app/tasks: everything else is internal.
export { TasksModule } from './tasks.module.js';
export { TASKS_QUEUE, TASKS_OPTIONS } from './tasks.constants.js';
export type {
  TasksModuleOptions,
  TasksModuleAsyncOptions,
  ResolvedTasksOptions,
  RetentionOptions,
  BackoffOptions,
} from './options/tasks-options.interface.js';
export { resolveTasksOptions } from './options/resolve-tasks-options.js';

export { Task, type TaskOptions } from './decorators/task.decorator.js';
export type { TaskContext } from './context/task-context.interface.js';

export { TaskClient, type EnqueueManyItem } from './client/task-client.js';
export type {
  EnqueueOptions,
  TaskHandle,
  TaskJobInfo,
  TaskJobState,
  TaskClass,
  TaskMethodName,
  TaskPayload,
  TaskResult,
  WaitResultOptions,
} from './client/task-client.types.js';
export type { JsonValue, JsonPrimitive } from './payload/assert-json-payload.js';

export { runWorker } from './worker/run-worker.js';
export { TaskWorkerHost } from './worker/task-worker.host.js';

export {
  TasksError,
  TasksConfigurationError,
  UnknownTaskError,
  InvalidPayloadError,
  NonRetriableError,
  TaskFailedError,
  TaskWaitTimeoutError,
  TaskTimeoutError,
  TaskNotFoundError,
  ServiceUnreachableError,
} from './errors/tasks.errors.js';

export { CronJobRun } from './tracking/cron-job-run.entity.js';
export { CronRunStatus, type CronRunTrigger } from './tracking/cron-run-status.js';
export { TASKS_ENTITIES, TASKS_MIGRATIONS } from './tracking/tasks-database.js';
