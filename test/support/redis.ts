import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { unlinkMatching } from '#nestjs-tasks-internal';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A TASKS_PREFIX no other test (or run) uses, so tests share one Redis safely. */
export function uniquePrefix(label: string): string {
  return `test-${label}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await unlinkMatching(redis, `${prefix}:*`);
  } finally {
    redis.disconnect();
  }
}
