import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseModule } from './database/database.module.js';
import { UploadTasks } from './uploads/upload.tasks.js';
import { ExpiringRecord } from './maintenance/expiring-record.entity.js';
import { MaintenanceJobs } from './maintenance/maintenance.jobs.js';

/**
 * The application's own tasks and crons. Worker, scheduler and api all import
 * it: the worker to run them, the scheduler to fire the crons, the api to
 * enqueue them by class and name. So nothing goes here that one process alone
 * should run: a BullMQ `@Processor` here would consume in all three (the
 * worker's own processors are in apps/worker's WorkerOnlyModule).
 */
@Module({
  imports: [DatabaseModule, TypeOrmModule.forFeature([ExpiringRecord])],
  providers: [UploadTasks, MaintenanceJobs],
  exports: [UploadTasks, MaintenanceJobs],
})
export class JobsModule {}
