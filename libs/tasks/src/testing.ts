// nestjs-tasks/testing: the testing kit. TasksModule for an application's
// tests, without Redis, Postgres or a worker process: the application's tasks
// and crons run through the production code, on in-memory ports and a fake clock.
// And for the few real-stack tests: waiting for a job or a cron run to reach a
// state, and deleting what a test's prefix left.
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
export { waitForJob, waitForCronRun, type WaitForJobOptions, type WaitForCronRunOptions } from './testing/wait-for.js';
export { purgeTasksPrefix, type PurgedTasksPrefix } from './testing/purge-tasks-prefix.js';
