import { Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { InjectRedis } from 'nestjs-tasks';

/** As long as the library keeps a failed job by default (7 days); a completed one goes after 1 hour. */
const OWNER_TTL_SECONDS = 7 * 24 * 60 * 60;

/**
 * Who enqueued each job through this api, so that GET /jobs/:id shows a user
 * only their own jobs. Kept in the app's Redis namespace
 * (`${TASKS_PREFIX}:app:job-owner:<jobId>`); a real app would keep it with its
 * own records (the upload row, say).
 */
@Injectable()
export class JobOwners {
  constructor(@InjectRedis() private readonly redis: Redis) {}

  async record(jobId: string, userId: string): Promise<void> {
    await this.redis.set(key(jobId), userId, 'EX', OWNER_TTL_SECONDS);
  }

  async ownerOf(jobId: string): Promise<string | null> {
    return this.redis.get(key(jobId));
  }
}

const key = (jobId: string) => `job-owner:${jobId}`;
