// nestjs-tasks: what an application writes its code against. App-level extras
// (pub/sub events, the app's Redis client, log and redaction helpers) are in
// 'nestjs-tasks/extras'; run tracking's TypeORM entities, migrations and
// transactions in 'nestjs-tasks/typeorm'. libs/tasks/public-api.json lists
// every name of every entry, and a test holds the entries to it.

// The module and its options.
export { TasksModule } from './module/tasks.module.js';
export type { TasksModuleForRootOptions, TasksModuleAsyncOptions, TasksOptionsFactory } from './module/tasks.module-definition.js';
export type { TasksModuleOptions, TaskQueueOptions } from './options/tasks-options.interface.js';
export { tasksOptionsFromEnv } from './options/tasks-options-from-env.js';

// Tasks: declare, enqueue, follow.
export { Task, type TaskOptions } from './task/task.decorator.js';
export type { TaskContext } from './task/task-context.interface.js';
export { TaskClient, type EnqueueManyItem } from './client/task-client.js';
export type { EnqueueOptions, TaskHandle, TaskJobInfo, TaskJobState, TaskPayload, TaskResult, WaitResultOptions } from './client/task-client.types.js';
export type { JsonValue } from './task/assert-json-payload.js';

// Crons: declare, operate, read their runs.
export { Cron, type CronOptions } from './cron/cron.decorator.js';
export type { CronContext } from './cron/cron-context.js';
export type { CronRunOutcome } from './cron/cron-job-data.js';
export { CronRegistry, type CronJobInfo } from './client/cron.registry.js';
export { CronRunsService, type CronRunQuery } from './tracking/cron-runs.service.js';
export type { CronJobRun } from './tracking/cron-job-run.entity.js';
export { CronRunStatus } from './tracking/cron-run-status.js';

// The worker and scheduler processes.
export { runWorker, workerQueuesFromEnv } from './entrypoints/run-worker.js';
export { runScheduler } from './entrypoints/run-scheduler.js';

// The BullMQ queues, for Bull Board and admin code.
export { TasksQueues } from './queues/tasks-queues.js';
export { tasksQueueToken } from './options/tasks.constants.js';
export { bullQueueName } from './options/task-queue-names.js';

// Health and metrics.
export { TasksHealthIndicator } from './health/tasks-health.indicator.js';
export { TasksMetrics } from './observability/tasks-metrics.js';

// Errors, and the abort reasons a handler's signal carries.
export {
  TasksError,
  TasksConfigurationError,
  ServiceUnreachableError,
  UnknownTaskError,
  UnknownCronError,
  InternalCronError,
  InvalidPayloadError,
  InvalidEnqueueOptionError,
  JobIdConflictError,
  NonRetriableError,
  TaskFailedError,
  TaskCancelledError,
  TaskWaitTimeoutError,
  TaskWaitAbortedError,
  TaskNotFoundError,
  TaskTimeoutError,
} from './errors/tasks.errors.js';
export { CronLockLostError, CronRunLostError } from './cron/cron-abort.js';
export { WorkerShutdownAbort } from './task/job-abort.js';

// Lifecycle events: the emitter the app subscribes to, and the payload of each event.
export { TasksEvents, type TasksEventListener } from './events/tasks-events.js';
// One event's payload is TasksEventMap['task.finished'], and so on: the map is the one name to import.
export { TASKS_EVENT_NAMES, type TasksEventMap, type TasksEventName } from './events/lifecycle-events.js';
