// The public surface of @app/tasks: everything else is internal.
export { TasksModule } from './tasks.module.js';
export { TASKS_QUEUE, CRON_QUEUE, TASKS_OPTIONS } from './tasks.constants.js';
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

export { InjectRedis, TASKS_REDIS, appRedisKeyPrefix } from './redis/app-redis.js';
export { EventPublisher } from './events/event-publisher.js';
export { EventSubscriber } from './events/event-subscriber.js';
export {
  userEventsChannel,
  MAX_EVENT_BYTES,
  type TaskEvent,
  type PublishedEvent,
} from './events/task-event.js';
export { InvalidEventError } from './events/event.errors.js';
export { runInTransaction, type TransactionOptions } from './database/run-in-transaction.js';

export { Cron, type CronOptions } from './cron/cron.decorator.js';
export type { CronContext } from './cron/cron-context.interface.js';
export type { CronRunOutcome } from './cron/cron-job-data.js';
export { runScheduler } from './cron/run-scheduler.js';
export { CronRunsService, type CronRunQuery } from './tracking/cron-runs.service.js';
export { CronRunNotRecordedError } from './errors/tasks.errors.js';
