import { Module } from '@nestjs/common';
import { CoreModule, JobsModule } from '@app/jobs';

/** Shared infrastructure and the shared tasks and crons, which this process runs. */
@Module({
  imports: [CoreModule.forRoot(), JobsModule],
})
export class WorkerModule {}
