export { JobsModule } from './jobs.module.js';
export { UploadTasks, type ProcessUploadPayload, type ProcessUploadResult } from './uploads/upload.tasks.js';
export { loggerParams } from './logger-params.js';
