import { CronJobRun } from './cron-job-run.entity.js';
import { CronScheduleRecord } from './cron-schedule-record.entity.js';
import { CreateCronJobRuns1795800000000 } from './migrations/1795800000000-create-cron-job-runs.js';
import { CronSchedulesAndFencing1796100000000 } from './migrations/1796100000000-cron-schedules-and-fencing.js';

/** Entities the library needs in the application's TypeORM DataSource. */
export const TASKS_ENTITIES = [CronJobRun, CronScheduleRecord];

/** Migrations that create them; add to the DataSource's `migrations`. */
export const TASKS_MIGRATIONS = [CreateCronJobRuns1795800000000, CronSchedulesAndFencing1796100000000];
