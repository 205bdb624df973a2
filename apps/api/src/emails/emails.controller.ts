import { Controller, HttpCode, HttpStatus, Post, Query } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { EMAILS_QUEUE, type WelcomeEmail, type WelcomeEmailSent } from '@app/jobs';
import { Caller, type Principal } from '../auth/auth.decorators.js';
import { readQuery } from '../http/query.js';
import { RateLimited } from '../limits/rate-limits.js';

@Controller('emails')
export class EmailsController {
  constructor(@InjectQueue(EMAILS_QUEUE) private readonly emails: Queue<WelcomeEmail, WelcomeEmailSent>) {}

  /**
   * Queues the caller's welcome email on the app's own `emails` queue: 202 with the job id; the worker sends it.
   * Counts against the caller's enqueue limit (RATE_LIMIT_ENQUEUE), like uploads.
   */
  @Post('welcome')
  @RateLimited('enqueue')
  @HttpCode(HttpStatus.ACCEPTED)
  async welcome(@Query() query: unknown, @Caller() caller: Principal): Promise<{ jobId: string }> {
    readQuery(query, {});
    const job = await this.emails.add('welcome', { userId: caller.userId });
    return { jobId: job.id as string };
  }
}
