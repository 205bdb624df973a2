// nestjs-tasks/typeorm: what the application's TypeORM DataSource needs for
// cron run tracking (needs the optional peers typeorm, @nestjs/typeorm and pg).
export { CronJobRun } from './tracking/cron-job-run.entity.js';
export { CronScheduleRecord } from './tracking/cron-schedule-record.entity.js';
export { TASKS_ENTITIES, TASKS_MIGRATIONS } from './tracking/tasks-database.js';
export { runInTransaction, type TransactionOptions } from './tracking/run-in-transaction.js';
