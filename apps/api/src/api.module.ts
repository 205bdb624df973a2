import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { TasksModule } from '@app/tasks';
import { JobsModule, loggerParams } from '@app/jobs';
import { UploadsController } from './uploads/uploads.controller.js';
import { JobsController } from './jobs/jobs.controller.js';

@Module({
  imports: [LoggerModule.forRoot(loggerParams()), TasksModule.forRoot(), JobsModule],
  controllers: [UploadsController, JobsController],
})
export class ApiModule {}
