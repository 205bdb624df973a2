import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BullModule } from '@nestjs/bullmq';
import { CRON_QUEUE, TASKS_OPTIONS, TASKS_QUEUE, TASKS_USER_OPTIONS } from './tasks.constants.js';
import type { ResolvedTasksOptions, TasksModuleAsyncOptions, TasksModuleOptions } from './options/tasks-options.interface.js';
import { resolveTasksOptions } from './options/resolve-tasks-options.js';
import { redisOptionsFromUrl } from './redis/redis-connection.js';
import { RedisPreflight } from './redis/redis-preflight.js';
import { TaskRegistry } from './registry/task.registry.js';
import { TasksExplorer } from './discovery/tasks.explorer.js';
import { TaskClient } from './client/task-client.js';
import { CronRegistry } from './cron/cron.registry.js';
import { CronRunner } from './cron/cron-runner.js';
import { CronScheduler } from './cron/cron-scheduler.js';
import { CronLockService } from './lock/cron-lock.service.js';
import { CronLockInterceptor } from './lock/cron-lock.interceptor.js';
import { CronRunTracker } from './tracking/cron-run.tracker.js';
import { CronRunTrackingInterceptor } from './tracking/cron-run-tracking.interceptor.js';
import { CronRunsService } from './tracking/cron-runs.service.js';
import { CronMaintenance } from './tracking/cron-maintenance.js';
import { TaskRunner } from './worker/task-runner.js';
import { TaskWorkerHost } from './worker/task-worker.host.js';
import { TASKS_REDIS, appRedisProviders } from './redis/app-redis.js';
import { EventPublisher } from './events/event-publisher.js';
import { EventSubscriber } from './events/event-subscriber.js';

@Module({})
class TasksOptionsModule {}

/**
 * Background tasks on BullMQ. Import once, in the root module of every app
 * (api, worker, scheduler); it is global. Needs nestjs-pino's LoggerModule.
 */
@Module({})
export class TasksModule {
  static forRoot(options: TasksModuleOptions = {}): DynamicModule {
    return TasksModule.forRootAsync({ useFactory: () => options });
  }

  static forRootAsync(asyncOptions: TasksModuleAsyncOptions): DynamicModule {
    const optionsModule: DynamicModule = {
      module: TasksOptionsModule,
      imports: asyncOptions.imports ?? [],
      providers: [
        { provide: TASKS_USER_OPTIONS, useFactory: asyncOptions.useFactory, inject: asyncOptions.inject ?? [] },
        {
          provide: TASKS_OPTIONS,
          useFactory: (options: TasksModuleOptions) => resolveTasksOptions(options),
          inject: [TASKS_USER_OPTIONS],
        },
      ],
      exports: [TASKS_OPTIONS],
    };
    return {
      module: TasksModule,
      global: true,
      imports: [
        DiscoveryModule,
        optionsModule,
        BullModule.forRootAsync({
          imports: [optionsModule],
          inject: [TASKS_OPTIONS],
          useFactory: (options: ResolvedTasksOptions) => ({
            connection: redisOptionsFromUrl(options.redisUrl),
            prefix: options.prefix,
          }),
        }),
        BullModule.registerQueue({ name: TASKS_QUEUE }, { name: CRON_QUEUE }),
      ],
      providers: [
        RedisPreflight,
        TaskRegistry,
        TasksExplorer,
        TaskClient,
        CronRegistry,
        CronRunner,
        CronScheduler,
        CronLockService,
        CronLockInterceptor,
        CronRunTracker,
        CronRunTrackingInterceptor,
        CronRunsService,
        CronMaintenance,
        TaskRunner,
        TaskWorkerHost,
        ...appRedisProviders,
        EventPublisher,
        EventSubscriber,
      ],
      // The cron interceptors are instantiated in the user's modules, so what they inject is exported.
      exports: [
        optionsModule,
        BullModule,
        TaskClient,
        TaskRegistry,
        TaskWorkerHost,
        CronRegistry,
        CronScheduler,
        CronLockService,
        CronRunTracker,
        CronRunsService,
        TASKS_REDIS,
        EventPublisher,
        EventSubscriber,
      ],
    };
  }
}
