import { Module } from '@nestjs/common';
import { BullModule, InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { QueueErrorLog } from '../queue-error-log.js';
import { EMAILS_QUEUE } from './emails.queue.js';

/**
 * The `emails` queue, for the processes that touch it: the api (producer) and
 * the worker (consumer). The scheduler does not import it, and so opens no
 * connection for it.
 */
@Module({
  imports: [
    BullModule.registerQueue({
      name: EMAILS_QUEUE,
      defaultJobOptions: {
        attempts: 3,
        backoff: { type: 'exponential', delay: 1_000 },
        removeOnComplete: { age: 3_600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3_600 },
      },
    }),
  ],
  providers: [QueueErrorLog],
  exports: [BullModule, QueueErrorLog],
})
export class EmailsModule {
  constructor(@InjectQueue(EMAILS_QUEUE) queue: Queue, errors: QueueErrorLog) {
    queue.on('error', (error) => errors.report(`queue ${EMAILS_QUEUE}`, error));
  }
}
