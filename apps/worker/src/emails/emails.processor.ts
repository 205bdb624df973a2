import { hostname } from 'node:os';
import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { EMAILS_QUEUE, QueueErrorLog, type WelcomeEmail, type WelcomeEmailSent } from '@app/jobs';

/**
 * The app's own consumer of the `emails` queue, a plain @nestjs/bullmq
 * processor. It is in the worker's root module only, so neither the api (which
 * adds the jobs) nor the scheduler consumes them. Named after its host and pid,
 * which is how BullMQ shows it in CLIENT LIST (`queue.getWorkers()`) and in
 * `job.processedBy`.
 */
@Processor(EMAILS_QUEUE, { name: `${hostname()}:${process.pid}` })
export class EmailsProcessor extends WorkerHost {
  constructor(
    private readonly logger: PinoLogger,
    private readonly errors: QueueErrorLog,
  ) {
    super();
    logger.setContext(EmailsProcessor.name);
  }

  async process(job: Job<WelcomeEmail, WelcomeEmailSent>): Promise<WelcomeEmailSent> {
    const { userId } = job.data;
    // Stands in for the mail provider's API call.
    this.logger.info({ jobId: job.id }, `Sent the welcome email to ${userId}`);
    return { sentTo: userId, template: 'welcome' };
  }

  @OnWorkerEvent('error')
  onError(error: Error): void {
    this.errors.report(`worker of ${EMAILS_QUEUE}`, error);
  }
}
