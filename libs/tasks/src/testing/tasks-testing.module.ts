import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { resolveTasksOptions } from '../options/resolve-tasks-options.js';
import { TaskCatalog } from '../task/task.catalog.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { TasksExplorer } from '../module/tasks.explorer.js';
import { TaskRunner } from '../worker/task-runner.js';
import { RunLogContext } from '../observability/run-log-context.js';
import { TasksMetrics } from '../observability/tasks-metrics.js';
import { TasksEvents } from '../events/tasks-events.js';
import { TaskClient } from '../client/task-client.js';
import { EventPublisher } from '../pubsub/event-publisher.js';
import { EventSubscriber } from '../pubsub/event-subscriber.js';
import { TESTING_NOW, TASKS_TESTING_OPTIONS, resolveTestingOptions, type ResolvedTestingOptions, type TasksTestingModuleOptions, type TestingNow } from './testing-options.js';
import { TestingMode } from './testing-mode.js';
import { TestingJobs } from './testing-jobs.js';
import { TestingTaskWorker } from './testing-task-worker.js';
import { TestingTaskClient } from './testing-task-client.js';
import { TestingRunLogContext } from './testing-run-log-context.js';
import { TestingUserEvents } from './testing-user-events.js';
import { TasksTesting } from './tasks-testing.js';

/**
 * `TasksModule` for tests, without Redis, Postgres or a worker process:
 *
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [TasksTestingModule.forRoot(), UploadsModule],
 * }).compile();
 * await moduleRef.init();
 * const tasks = moduleRef.get(TasksTesting);
 * ```
 *
 * It is global, as `TasksModule` is: the code under test injects
 * `TaskClient`, `EventPublisher` and `EventSubscriber` as usual and gets the
 * kit's; `TasksEvents` hears the lifecycle of the kit's jobs as production's. Tasks are found, wrapped in the app's interceptors and run by the
 * production code (discovery, the task runner, attempts and backoff,
 * payload and option checks); only the queues are in memory.
 */
@Module({})
export class TasksTestingModule {
  static forRoot(options: TasksTestingModuleOptions = {}): DynamicModule {
    const testing = resolveTestingOptions(options);
    // Checked now, as TasksModule checks them at boot: a test cannot run with options production refuses.
    const resolved = resolveTasksOptions(options.options);
    return {
      module: TasksTestingModule,
      global: true,
      imports: [DiscoveryModule],
      providers: [
        { provide: TASKS_TESTING_OPTIONS, useValue: testing },
        { provide: TASKS_OPTIONS, useValue: resolved },
        // Frozen at the start: the kit's time moves only when the test moves it.
        { provide: TESTING_NOW, useFactory: (o: ResolvedTestingOptions): TestingNow => ({ now: () => o.startsAt }), inject: [TASKS_TESTING_OPTIONS] },
        TaskCatalog,
        CronCatalog,
        TasksExplorer,
        TaskRunner,
        TestingRunLogContext,
        { provide: RunLogContext, useExisting: TestingRunLogContext },
        TasksEvents,
        // The queue depths it samples live in Redis: the kit counts nothing.
        {
          provide: TasksMetrics,
          useFactory: (o: ResolvedTasksOptions, events: TasksEvents) => new TasksMetrics({ ...o, metrics: false }, undefined as never, undefined as never, events),
          inject: [TASKS_OPTIONS, TasksEvents],
        },
        TestingMode,
        TestingJobs,
        TestingTaskWorker,
        TestingTaskClient,
        { provide: TaskClient, useExisting: TestingTaskClient },
        TestingUserEvents,
        { provide: EventPublisher, useExisting: TestingUserEvents },
        { provide: EventSubscriber, useExisting: TestingUserEvents },
        TasksTesting,
      ],
      exports: [TASKS_OPTIONS, TaskClient, TestingTaskClient, EventPublisher, EventSubscriber, TasksEvents, TasksMetrics, TasksTesting],
    };
  }
}
