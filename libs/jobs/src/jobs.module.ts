import { Module } from '@nestjs/common';
import { UploadTasks } from './uploads/upload.tasks.js';

/**
 * The application's own tasks and crons. Worker, scheduler and api all import
 * it: the worker to run them, the others to enqueue them by class and name.
 */
@Module({
  providers: [UploadTasks],
  exports: [UploadTasks],
})
export class JobsModule {}
