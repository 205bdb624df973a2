import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { TasksModule, tasksOptionsFromEnv } from 'nestjs-tasks';
import { DatabaseModule, JobsModule, loggerParams } from '@app/jobs';
import { UploadsController } from './uploads/uploads.controller.js';
import { JobsController } from './jobs/jobs.controller.js';
import { CronController } from './cron/cron.controller.js';
import { UserEventsController } from './events/user-events.controller.js';

@Module({
  imports: [LoggerModule.forRoot(loggerParams()), TasksModule.forRoot(tasksOptionsFromEnv()), DatabaseModule, JobsModule],
  controllers: [UploadsController, JobsController, CronController, UserEventsController],
})
export class ApiModule {}
