export { JobsModule } from './jobs.module.js';
export {
  UploadTasks,
  type ProcessUploadPayload,
  type ProcessUploadResult,
  type UploadEvent,
} from './uploads/upload.tasks.js';
export { loggerParams } from './logger-params.js';
export { DatabaseModule } from './database/database.module.js';
export { databaseOptions, DEFAULT_DATABASE_URL } from './database/database.options.js';
export { ExpiringRecord } from './maintenance/expiring-record.entity.js';
export { MaintenanceJobs } from './maintenance/maintenance.jobs.js';
export { ensureDatabase } from './database/ensure-database.js';
export { CoreModule, type CoreModuleOptions } from './core.module.js';
export { QueueErrorLog } from './queue-error-log.js';
export { EmailsModule } from './emails/emails.module.js';
export { EMAILS_QUEUE, type WelcomeEmail, type WelcomeEmailSent } from './emails/emails.queue.js';
