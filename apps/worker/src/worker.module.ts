import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { TasksModule, tasksOptionsFromEnv } from 'nestjs-tasks';
import { DatabaseModule, JobsModule, loggerParams } from '@app/jobs';

@Module({
  imports: [LoggerModule.forRoot(loggerParams()), TasksModule.forRoot(tasksOptionsFromEnv()), DatabaseModule, JobsModule],
})
export class WorkerModule {}
