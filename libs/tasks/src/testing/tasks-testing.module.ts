import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
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
import { TASKS_TESTING_OPTIONS, resolveTestingOptions, type TasksTestingModuleOptions } from './testing-options.js';
import { cronTestingExports, cronTestingProviders } from './cron-testing.providers.js';
import { redisStandInExports, redisStandInProviders } from './redis-stand-ins.js';
import { FAKE_CLOCK_START } from './fake-clock.js';
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
 * `TaskClient`, `CronRegistry`, `CronRunsService`, `EventPublisher` and
 * `EventSubscriber` as usual and gets the kit's, and `TasksEvents` hears
 * the lifecycle of the kit's jobs and runs as production's. Tasks are found,
 * wrapped in the app's interceptors and run by the production code
 * (discovery, the task runner, attempts and backoff, payload and option
 * checks), and so are crons (their schedules, the catch-up policy, the run
 * pipeline with its overlap policies and fencing). The queues, the cron
 * locks and the run and schedule stores are in memory, and time is a fake
 * clock that moves only when the test moves it (`TasksTesting.clock`).
 * What is Redis itself (the BullMQ queues, `TasksQueues`, `@InjectRedis()`)
 * can be injected but fails on its first call, naming itself;
 * `TasksHealthIndicator` reports every check up.
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
        // The kit's time starts here and moves only when the test moves it (TasksTesting.clock).
        { provide: FAKE_CLOCK_START, useValue: testing.startsAt },
        ...cronTestingProviders,
        TaskCatalog,
        CronCatalog,
        TasksExplorer,
        TaskRunner,
        TestingRunLogContext,
        { provide: RunLogContext, useExisting: TestingRunLogContext },
        TasksEvents,
        // The queue depths it samples live in Redis: the kit counts nothing.
        { provide: TasksMetrics, useFactory: () => TasksMetrics.off() },
        TestingMode,
        TestingJobs,
        TestingTaskWorker,
        TestingTaskClient,
        { provide: TaskClient, useExisting: TestingTaskClient },
        TestingUserEvents,
        { provide: EventPublisher, useExisting: TestingUserEvents },
        { provide: EventSubscriber, useExisting: TestingUserEvents },
        TasksTesting,
        ...redisStandInProviders,
      ],
      exports: [TASKS_OPTIONS, TaskClient, TestingTaskClient, EventPublisher, EventSubscriber, TasksEvents, TasksMetrics, TasksTesting, ...cronTestingExports, ...redisStandInExports],
    };
  }
}
