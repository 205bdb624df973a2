import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { TasksModule } from '@app/tasks';
import { DatabaseModule, JobsModule, loggerParams } from '@app/jobs';

@Module({
  imports: [LoggerModule.forRoot(loggerParams()), TasksModule.forRoot(), DatabaseModule, JobsModule],
})
export class WorkerModule {}
