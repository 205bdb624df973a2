import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { CronSchedulerLease, LEASE_RENEW_MS, LEASE_TTL_MS } from '@app/tasks/cron/cron-scheduler-lease.js';
import { redisOptionsFromUrl } from '@app/tasks/redis/redis-connection.js';
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
    const all = Array.from(
      { length: count },
      (_, i) =>
        new CronSchedulerLease(
          redisOptionsFromUrl(REDIS_URL),
          key,
          () => acquired.push(i),
          (error) => {
            throw error;
          },
        ),
    );
    cleanups.push(async () => {
      await Promise.all(all.map((lease) => lease.stop()));
      await deletePrefix(prefix);
    });
    return { key, all, acquired };
  }

  it('is held by exactly one of several replicas, which is told when it takes it', async () => {
    const { all, acquired } = leases(3);
    all.forEach((lease) => lease.start());
    await waitFor(() => all.some((lease) => lease.isLeader), { what: 'a leader' });
    // Every replica has refreshed at least once after a full renew period.
    await new Promise((resolve) => setTimeout(resolve, LEASE_RENEW_MS + 500));
    expect(all.filter((lease) => lease.isLeader)).toHaveLength(1);
    expect(acquired).toHaveLength(1);
    expect(all[acquired[0] as number]?.isLeader).toBe(true);
  });

  it('passes to another replica soon after the holder stops, without waiting for it to expire', async () => {
    const { key, all, acquired } = leases(2);
    all.forEach((lease) => lease.start());
    const leader = await waitFor(() => all.find((lease) => lease.isLeader), { what: 'a leader' });
    const other = all.find((lease) => lease !== leader) as CronSchedulerLease;
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    expect(Number(await redis.pttl(key))).toBeGreaterThan(0);

    await leader.stop();
    expect(leader.isLeader).toBe(false);
    // The other replica's next refresh takes it: within one renew period, far under the TTL.
    await waitFor(() => other.isLeader, { what: 'the other replica to take the lease', timeoutMs: LEASE_RENEW_MS + 1_000 });
    expect(LEASE_RENEW_MS + 1_000).toBeLessThan(LEASE_TTL_MS);
    expect(acquired).toHaveLength(2);
  });
});
