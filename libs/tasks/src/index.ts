// The public surface of nestjs-tasks. Run tracking's TypeORM entity and
// migrations are in 'nestjs-tasks/typeorm'; internals for tests in 'nestjs-tasks/testing'.
export { TasksModule } from './module/tasks.module.js';
export type {
  TasksModuleForRootOptions,
  TasksModuleAsyncOptions,
  TasksModuleExtras,
  TasksOptionsFactory,
} from './module/tasks.module-definition.js';
export type {
  TasksModuleOptions,
  ResolvedTasksOptions,
  RetentionOptions,
  BackoffOptions,
  RedisTlsOptions,
  MetricsRegistry,
  TaskQueueOptions,
  QueueRateLimit,
} from './options/tasks-options.interface.js';
export { TasksMetrics } from './observability/tasks-metrics.js';
export { tasksOptionsFromEnv, TASKS_ENV_VARIABLES } from './options/tasks-options-from-env.js';
export {
  TASKS_QUEUE,
  CRON_QUEUE,
  TASKS_QUEUE_TOKEN,
  CRON_QUEUE_TOKEN,
  TASKS_BULL_CONFIG_KEY,
  tasksQueueToken,
} from './options/tasks.constants.js';
export { TasksQueues } from './queues/tasks-queues.js';

export { Task, type TaskOptions } from './task/task.decorator.js';
export type { TaskContext } from './task/task-context.interface.js';

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
export type { JsonValue, JsonPrimitive } from './task/assert-json-payload.js';

export { bufferedLogDestination, BufferedLogDestination, type BufferedLogDestinationOptions } from './observability/buffered-log-destination.js';
export { escapeLogText } from './redaction/escape-log-text.js';
export { runWorker, workerQueuesFromEnv } from './entrypoints/run-worker.js';
export type { WorkerQueueSelection } from './worker/task-worker.host.js';
export { DEFAULT_TASK_QUEUE, bullQueueName } from './options/task-queue-names.js';
export { runScheduler } from './entrypoints/run-scheduler.js';
export { reportBootFailure } from './entrypoints/boot.js';
export { redactUrl, redactSecrets, isSecretName, type RedactOptions } from './redaction/redact.js';
export { parseConnectionUrl } from './redaction/connection-url.js';

export { Cron, type CronOptions, type CronCatchUp, type CronOverlap } from './cron/cron.decorator.js';
export type { CronContext } from './cron/cron-context.js';
export type { CronRunOutcome } from './cron/cron-job-data.js';
export { CronRegistry, type CronJobInfo, type CronListOptions } from './client/cron.registry.js';
export type { PauseNote } from './tracking/schedule.store.js';
export { CronLockLostError, CronRunLostError } from './cron/cron-abort.js';
export { WorkerShutdownAbort } from './task/job-abort.js';
export { CronRunsService, type CronRunQuery } from './tracking/cron-runs.service.js';
export type { CronJobRun } from './tracking/cron-job-run.entity.js';
export type { CronScheduleRecord } from './tracking/cron-schedule-record.entity.js';
export { CronRunStatus, type CronRunTrigger } from './tracking/cron-run-status.js';

export {
  TasksError,
  TasksConfigurationError,
  UnknownTaskError,
  UnknownCronError,
  InternalCronError,
  InvalidPayloadError,
  NonRetriableError,
  TaskFailedError,
  TaskCancelledError,
  TaskWaitTimeoutError,
  TaskTimeoutError,
  TaskNotFoundError,
  ServiceUnreachableError,
  CronRunNotRecordedError,
  InvalidEnqueueOptionError,
  JobIdConflictError,
  TaskWaitAbortedError,
} from './errors/tasks.errors.js';

export { InjectRedis, TASKS_REDIS, appRedisKeyPrefix } from './redis/app-redis.js';
export { EventPublisher } from './pubsub/event-publisher.js';
export { EventSubscriber } from './pubsub/event-subscriber.js';
export {
  userEventsChannel,
  MAX_EVENT_BYTES,
  type TaskEvent,
  type PublishedEvent,
} from './pubsub/task-event.js';
export { InvalidEventError } from './pubsub/event.errors.js';

export { TasksHealthIndicator, type RedisHealthOptions, type TasksHealthResult } from './health/tasks-health.indicator.js';

// Lifecycle events (issue 21): the emitter the app subscribes to, and the payload of each event.
export { TasksEvents, type TasksEventListener } from './events/tasks-events.js';
export {
  TASKS_EVENT_NAMES,
  type TasksEventMap,
  type TasksEventName,
  type TaskAttemptFields,
  type TaskEnqueuedEvent,
  type TaskStartedEvent,
  type TaskFinishedEvent,
  type TaskFailureReason,
  type TaskRetriedEvent,
  type CronTrigger,
  type CronTickEnqueuedEvent,
  type CronTickMissedEvent,
  type CronMissedCause,
  type CronRunFields,
  type CronRunClaimedEvent,
  type CronRunSkippedEvent,
  type CronRunFinishedEvent,
  type CronRunLostEvent,
  type CronRunFencedEvent,
  type CronLockExtensionFailedEvent,
  type SchedulerLeaseChangedEvent,
  type JobHandedBackEvent,
} from './events/lifecycle-events.js';
