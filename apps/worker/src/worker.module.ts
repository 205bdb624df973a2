import { Module } from '@nestjs/common';
import { CoreModule, JobsModule } from '@app/jobs';
import { WorkerOnlyModule } from './worker-only.module.js';

/** Shared infrastructure, the shared tasks and crons (run here), and the worker's own processors. */
@Module({
  imports: [CoreModule.forRoot(), JobsModule, WorkerOnlyModule],
})
export class WorkerModule {}
