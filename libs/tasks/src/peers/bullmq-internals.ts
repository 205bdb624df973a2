import type { RedisClient, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

// What the library relies on in BullMQ beyond its public API, in one place.
// Checked against bullmq 6.7.0; bullmq-internals.spec.ts fails, naming the
// change, when a BullMQ release changes what is relied on here.

/**
 * Whether the worker waits out its queue's rate limit (BullMQ's private
 * `Worker.isRateLimited()`). Such a worker does not poll Redis until the
 * limit is over, which the worker health check must not take for a stuck
 * worker. BullMQ tells this to no public member or event. False when this
 * BullMQ has no such method.
 */
export function workerIsRateLimited(worker: Worker): boolean {
  const isRateLimited: unknown = (worker as unknown as Record<string, unknown>).isRateLimited;
  return typeof isRateLimited === 'function' ? (isRateLimited as () => unknown).call(worker) === true : false;
}

/** What the readiness check uses of a queue's connection. */
export type PingableClient = Pick<Redis, 'status' | 'ping'>;

/**
 * The ioredis client behind `queue.getBackend().client`. BullMQ hands out its
 * own client interface, which declares `status` but no PING; its adapter for
 * ioredis forwards every other member to the ioredis instance, so `ping()` is
 * ioredis' own. The library gives BullMQ ioredis options, so the client is
 * always that adapter.
 */
export function pingableClient(client: RedisClient): PingableClient {
  const pingable = client as unknown as PingableClient;
  if (typeof pingable.ping !== 'function') {
    throw new TypeError(
      "BullMQ's Redis client has no ping(): this BullMQ no longer forwards ioredis' methods (checked against bullmq 6.7.0); " +
        'use a bullmq version the installed nestjs-tasks supports',
    );
  }
  return pingable;
}
