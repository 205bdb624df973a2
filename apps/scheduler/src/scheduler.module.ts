import { Module } from '@nestjs/common';
import { CoreModule, JobsModule } from '@app/jobs';

/** Shared infrastructure and the shared tasks and crons (it fires the crons); nothing of its own. */
@Module({
  imports: [CoreModule.forRoot(), JobsModule],
})
export class SchedulerModule {}
