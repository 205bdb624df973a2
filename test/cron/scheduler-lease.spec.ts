import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { CronSchedulerLease } from '#nestjs-tasks-internal';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait-for.js';

// The lease that picks which scheduler replica fires at the tick (the others back it up), on the real Redis.
describe('scheduler lease', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function leases(count: number) {
    const prefix = uniquePrefix('lease');
    const key = `${prefix}:cron-scheduler:lease`;
    const acquired: number[] = [];
    const errors: Error[] = [];
    // One client per replica, as each scheduler process has its own.
    const clients = Array.from({ length: count }, () => new Redis(REDIS_URL, { maxRetriesPerRequest: 1 }));
    const all = Array.from(
      { length: count },
      (_, i) =>
        new CronSchedulerLease(
          clients[i] as Redis,
          key,
          (held) => {
            if (held) acquired.push(i);
          },
          (error) => errors.push(error),
        ),
    );
    cleanups.push(async () => {
      await Promise.all(all.map((lease) => lease.stop()));
      for (const client of clients) client.disconnect();
      await deletePrefix(prefix);
    });
    return { key, all, acquired, errors };
  }

  it('is held by exactly one of several replicas, which is told when it takes it', async () => {
    const { all, acquired, errors } = leases(3);
    // Each start resolves once that replica's first attempt has Redis' answer.
    await Promise.all(all.map((lease) => lease.startRefreshing()));
    expect(all.filter((lease) => lease.isLeader)).toHaveLength(1);
    expect(acquired).toHaveLength(1);
    expect(all[acquired[0] as number]?.isLeader).toBe(true);
    expect(errors).toEqual([]);
  });

  it('is given up when its holder stops, so another replica takes it without waiting for it to expire', async () => {
    const { key, all, acquired, errors } = leases(2);
    await Promise.all(all.map((lease) => lease.startRefreshing()));
    const leader = all.find((lease) => lease.isLeader) as CronSchedulerLease;
    const other = all.find((lease) => lease !== leader) as CronSchedulerLease;
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    expect(Number(await redis.pttl(key))).toBeGreaterThan(0);

    await leader.stop();
    expect(leader.isLeader).toBe(false);
    // Released, not left to run out its TTL.
    expect(await redis.exists(key)).toBe(0);
    await waitFor(() => other.isLeader, { what: 'the other replica to take the lease' });
    expect(acquired).toHaveLength(2);
    expect(errors).toEqual([]);
  });
});
