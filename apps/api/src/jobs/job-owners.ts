import { Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { TaskHandle } from 'nestjs-tasks';
import { InjectRedis } from 'nestjs-tasks/extras';

// How long the worker keeps a finished job: the library's defaults (keepCompleted,
// keepFailed), which CoreModule does not change. Change them together.
const COMPLETED_RETENTION_SECONDS = 60 * 60;
const FAILED_RETENTION_SECONDS = 7 * 24 * 60 * 60;

/**
 * Who enqueued each job through this api, so that GET /jobs/:id shows a user
 * only their own jobs. Kept in the app's Redis namespace
 * (`${TASKS_PREFIX}:app:job-owner:<jobId>`), as long as the job it guards: a
 * real app would keep it with its own records (the upload row, say).
 */
@Injectable()
export class JobOwners {
  private readonly logger = new Logger(JobOwners.name);

  constructor(@InjectRedis() private readonly redis: Redis) {}

  /**
   * Notes `userId` as the owner of the job. Until the job finishes the record
   * lasts as long as a finished job may be kept (a failed one's retention, the
   * longer); once it completes, as long as a completed job is kept. Had this
   * process stopped before that, the record keeps the longer lifetime.
   */
  async record(handle: TaskHandle<unknown>, userId: string): Promise<void> {
    await this.redis.set(key(handle.id), userId, 'EX', FAILED_RETENTION_SECONDS);
    void handle.waitResult().then(
      () =>
        this.redis.expire(key(handle.id), COMPLETED_RETENTION_SECONDS).catch((error: Error) => {
          this.logger.warn(`Could not shorten the owner record of job ${handle.id} to the job's retention: ${error.message}`);
        }),
      // Failed (kept for the failed retention, the record's), cancelled or gone: the record expires by itself.
      () => undefined,
    );
  }

  async ownerOf(jobId: string): Promise<string | null> {
    return this.redis.get(key(jobId));
  }
}

const key = (jobId: string) => `job-owner:${jobId}`;
