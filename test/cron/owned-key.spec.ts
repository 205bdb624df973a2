import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { CronLockService, OwnedKey, ownerToken } from '#nestjs-tasks-internal';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { closeAll, createTasksApp } from '../support/in-process.js';
import { waitFor } from '../support/wait-for.js';

// The one primitive behind the cron locks, the bufferOne places and the scheduler lease, on the real Redis.
describe('an owned key', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const redisAt = (url: string) => {
    const redis = new Redis(url);
    cleanups.push(async () => redis.disconnect());
    return redis;
  };

  it('is had by one token at a time; only its owner extends or releases it; unextended, it expires and is free again', async () => {
    const prefix = uniquePrefix('owned');
    cleanups.push(() => deletePrefix(prefix));
    const redis = redisAt(REDIS_URL);
    const key = new OwnedKey(redis, `${prefix}:key`);
    const [mine, theirs] = [ownerToken(), ownerToken()];
    expect(mine).toMatch(/^[0-9a-f]{32}$/);
    expect(mine).not.toBe(theirs);

    expect(await key.owner()).toBeNull();
    expect(await key.acquire(mine, 60_000)).toBe(true);
    expect(await key.acquire(theirs, 60_000)).toBe(false);
    expect(await key.acquireOrExtend(theirs, 60_000)).toBe(false);
    expect(await key.owner()).toBe(mine);

    expect(await key.extend(theirs, 120_000)).toBe(false);
    expect(await redis.pttl(key.key)).toBeLessThanOrEqual(60_000);
    expect(await key.extend(mine, 120_000)).toBe(true);
    expect(await redis.pttl(key.key)).toBeGreaterThan(60_000);
    expect(await key.acquireOrExtend(mine, 180_000)).toBe(true);
    expect(await redis.pttl(key.key)).toBeGreaterThan(120_000);

    expect(await key.release(theirs)).toBe(false);
    expect(await key.owner()).toBe(mine);
    expect(await key.release(mine)).toBe(true);
    expect(await key.owner()).toBeNull();

    expect(await key.acquireOrExtend(theirs, 50)).toBe(true);
    await waitFor(async () => (await key.owner()) === null, { what: 'the key to expire' });
    expect(await key.extend(theirs, 60_000)).toBe(false);
    expect(await key.acquire(mine, 60_000)).toBe(true);
  });

  it('a cron lock and a bufferOne place live in the database of the Redis URL, where the lost-run sweep looks for them', async () => {
    const prefix = uniquePrefix('lockdb');
    const url = new URL(REDIS_URL);
    url.pathname = '/5';
    const db5 = redisAt(url.toString());
    const db0 = redisAt(REDIS_URL);
    cleanups.push(async () => {
      const keys = await db5.keys(`${prefix}:*`);
      if (keys.length > 0) await db5.del(...keys);
    });
    const app = await createTasksApp({ tasks: { redisUrl: url.toString(), prefix } });
    cleanups.push(() => closeAll([app]));
    const locks = app.get(CronLockService);

    const lock = await locks.tryAcquire('job', 60_000, () => undefined);
    expect(lock).toBeDefined();
    expect(await db5.get(locks.keyOf('job'))).toBe(lock?.token);
    expect(await db0.exists(locks.keyOf('job'))).toBe(0);
    expect(await locks.isHeld('job', lock?.token as string)).toBe(true);
    expect(await locks.tryAcquire('job', 60_000, () => undefined)).toBeUndefined();

    const slot = await locks.tryTakeBufferSlot('job', 'job@1', 60_000);
    expect(slot).toBeDefined();
    expect(await locks.tryTakeBufferSlot('job', 'job@2', 60_000)).toBeUndefined();
    expect(await locks.isBufferSlotTaken('job')).toBe(true);
    await slot?.release();
    expect(await locks.isBufferSlotTaken('job')).toBe(false);

    await lock?.release();
    expect(await locks.isHeld('job', lock?.token as string)).toBe(false);
    expect(await db5.exists(locks.keyOf('job'))).toBe(0);
  });
});
