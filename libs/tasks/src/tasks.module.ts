import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BullModule } from '@nestjs/bullmq';
import { TASKS_OPTIONS, TASKS_QUEUE, TASKS_USER_OPTIONS } from './tasks.constants.js';
import type { ResolvedTasksOptions, TasksModuleAsyncOptions, TasksModuleOptions } from './options/tasks-options.interface.js';
import { resolveTasksOptions } from './options/resolve-tasks-options.js';
import { redisOptionsFromUrl } from './redis/redis-connection.js';
import { RedisPreflight } from './redis/redis-preflight.js';
import { TaskRegistry } from './registry/task.registry.js';
import { TasksExplorer } from './discovery/tasks.explorer.js';
import { TaskClient } from './client/task-client.js';
import { JobOutcomeListener } from './client/job-outcome.listener.js';
import { TaskRunner } from './worker/task-runner.js';
import { TaskWorkerHost } from './worker/task-worker.host.js';

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
        BullModule.registerQueue({ name: TASKS_QUEUE }),
      ],
      providers: [
        RedisPreflight,
        TaskRegistry,
        TasksExplorer,
        JobOutcomeListener,
        TaskClient,
        TaskRunner,
        TaskWorkerHost,
      ],
      exports: [optionsModule, BullModule, TaskClient, TaskRegistry, TaskWorkerHost],
    };
  }
}
