// nestjs-tasks/testing: the testing kit. TasksModule for an application's
// tests, without Redis, Postgres or a worker process: the application's tasks
// and crons run through the production code, on in-memory ports and a fake clock.
export { TasksTestingModule } from './testing/tasks-testing.module.js';
export type { TasksTestingModuleOptions, TasksTestingMode } from './testing/testing-options.js';
export { TasksTesting, TasksExpectationError, type ExpectEnqueuedOptions, type RunNextOptions, type TestingClock } from './testing/tasks-testing.js';
export type { CronRun } from './testing/in-memory-run-store.js';
export type { CronAttempt } from './testing/cron-test-driver.js';
export type { EnqueuedJob, TestingJobState } from './testing/testing-jobs.js';
export type { JobOutcome, DrainOptions } from './testing/testing-task-worker.js';
export type { PublishedUserEvent } from './testing/testing-user-events.js';
export type { DeepPartial } from './testing/deep-match.js';
export { taskContext, cronContext, type TestTaskContext, type TestCronContext } from './testing/context-builders.js';
