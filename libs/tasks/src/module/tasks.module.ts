import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CRON_QUEUE_TOKEN, TASKS_QUEUE_TOKEN } from '../options/tasks.constants.js';
import {
  TasksOptionsModule,
  type TasksModuleAsyncOptions,
  type TasksModuleForRootOptions,
} from './tasks.module-definition.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { RedisPreflight } from '../redis/redis-preflight.js';
import { RedisClients } from '../redis/redis-clients.js';
import { TASKS_REDIS, appRedisProviders } from '../redis/app-redis.js';
import { TaskCatalog } from '../task/task.catalog.js';
import { TasksExplorer } from './tasks.explorer.js';
import { TaskClient } from '../client/task-client.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { CronRegistry } from '../client/cron.registry.js';
import { CronRunPipeline } from '../worker/cron-run-pipeline.js';
import { CronMaintenance } from '../cron/cron-maintenance.js';
import { CronScheduler } from '../scheduler/cron-scheduler.js';
import { CronLockService } from '../lock/cron-lock.service.js';
import { CronRunStore } from '../tracking/cron-run.store.js';
import { CronRunsService } from '../tracking/cron-runs.service.js';
import { PostgresScheduleStore } from '../tracking/postgres-schedule.store.js';
import { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';
import { RedisScheduleStore } from '../tracking/redis-schedule.store.js';
import { TrackingDatabaseLocator } from '../tracking/tracking-database.js';
import { TaskRunner } from '../worker/task-runner.js';
import { TaskWorkerHost } from '../worker/task-worker.host.js';
import { RunLogContext } from '../observability/run-log-context.js';
import { EventPublisher } from '../pubsub/event-publisher.js';
import { EventSubscriber } from '../pubsub/event-subscriber.js';
import { TasksHealthIndicator } from '../health/tasks-health.indicator.js';
import { TasksHealthServer } from '../health/tasks-health.server.js';
import { TasksMetrics } from '../observability/tasks-metrics.js';
import { RunSpanAnnotations } from '../observability/task-tracing.js';
import { TasksEvents } from '../events/tasks-events.js';
import { TaskQueues } from '../queues/task-queues.js';
import { DeployedTasks } from '../queues/deployed-tasks.js';
import { JobCancellation } from '../queues/job-cancellation.js';
import { TasksClock } from '../options/tasks-clock.js';
import { TaskQueueTokensModule, TasksQueues, taskQueueProviders } from '../queues/tasks-queues.js';
import { QueueFactory, libraryQueueProviders } from '../queues/queue-factory.js';

/**
 * Background tasks and distributed cron on BullMQ. Import it once, in the
 * root module of every app (api, worker, scheduler):
 *
 * ```ts
 * TasksModule.forRoot({ redisUrl: 'redis://127.0.0.1:6379', prefix: 'myapp' })
 * TasksModule.forRootAsync({ inject: [ConfigService], useFactory: (config: ConfigService) => ({ redisUrl: config.get('REDIS_URL') }) })
 * ```
 *
 * It is global unless `isGlobal: false`. It builds its BullMQ queues itself,
 * on its own connection, and registers no `@nestjs/bullmq` settings, so the
 * application's own `BullModule.forRoot()` and queues are independent of it,
 * in either import order.
 */
@Module({})
export class TasksModule {
  static forRoot(options: TasksModuleForRootOptions = {}): DynamicModule {
    const declared = typeof options.queues === 'object' && options.queues !== null ? Object.keys(options.queues) : [];
    return TasksModule.assemble(TasksOptionsModule.forRoot(options), options.isGlobal, declared);
  }

  static forRootAsync(options: TasksModuleAsyncOptions): DynamicModule {
    return TasksModule.assemble(TasksOptionsModule.forRootAsync(options), options.isGlobal);
  }

  /**
   * Provides `tasksQueueToken(name)` (`@nestjs/bullmq`'s token of `tasks.<name>`)
   * for each of these task queues, e.g. for `forRootAsync()`, whose queue
   * names are not known when modules are built: `TasksModule.registerQueues('reports')`,
   * imported once. Its tokens are global; it needs the global `TasksModule` (the default).
   */
  static registerQueues(...queues: string[]): DynamicModule {
    return TaskQueueTokensModule.register(queues);
  }

  private static assemble(optionsModule: DynamicModule, isGlobal = true, declaredQueues: readonly string[] = []): DynamicModule {
    const queueProviders = taskQueueProviders(declaredQueues);
    return {
      module: TasksModule,
      global: isGlobal,
      imports: [
        DiscoveryModule,
        optionsModule,
      ],
      providers: [
        RedisConnections,
        RedisPreflight,
        RedisClients,
        ...appRedisProviders,
        QueueFactory,
        ...libraryQueueProviders,
        TaskCatalog,
        CronCatalog,
        TasksExplorer,
        TaskClient,
        CronRegistry,
        CronRunPipeline,
        CronMaintenance,
        CronScheduler,
        CronLockService,
        CronRunStore,
        CronRunsService,
        PostgresScheduleStore,
        RedisScheduleStore,
        ScheduleStoreSelector,
        TrackingDatabaseLocator,
        TaskRunner,
        TaskWorkerHost,
        RunLogContext,
        EventPublisher,
        EventSubscriber,
        TasksHealthIndicator,
        TasksHealthServer,
        TasksEvents,
        TasksMetrics,
        RunSpanAnnotations,
        TasksClock,
        TaskQueues,
        DeployedTasks,
        JobCancellation,
        TasksQueues,
        ...queueProviders,
      ],
      exports: [TASKS_QUEUE_TOKEN, CRON_QUEUE_TOKEN, TaskClient, CronRegistry, CronRunsService, TASKS_REDIS, EventPublisher, EventSubscriber, TasksHealthIndicator, TasksMetrics, TasksEvents, TasksQueues, ...queueProviders.map((p) => p.provide)],
    };
  }
}
