import { Module } from '@nestjs/common';
import { EmailsModule } from '@app/jobs';
import { EmailsProcessor } from './emails/emails.processor.js';

/** What the worker process runs and no other: the app's own BullMQ processors. */
@Module({
  imports: [EmailsModule],
  providers: [EmailsProcessor],
})
export class WorkerOnlyModule {}
