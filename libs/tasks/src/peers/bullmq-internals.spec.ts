import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { workerIsRateLimited } from './bullmq-internals.js';

// These run the installed BullMQ on the real Redis: when one fails, the
// BullMQ release changed what bullmq-internals.ts relies on, and the adapter
// (and the health check that uses it) must follow.

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection: ConnectionOptions = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
const prefix = `test-bullmq-internals-${randomBytes(4).toString('hex')}`;
const CHANGED = 'BullMQ changed what peers/bullmq-internals.ts relies on (checked against bullmq 6.7.0)';

describe('what the library relies on in BullMQ', () => {
  const queues: Queue[] = [];
  const workers: Worker[] = [];

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.close(true)));
    await Promise.all(queues.map((queue) => queue.close()));
    const redis = new Redis({ host: connection.host, port: connection.port });
    try {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.unlink(...keys);
    } finally {
      redis.disconnect();
    }
  });

  const queue = (name: string): Queue => {
    const created = new Queue(name, { connection, prefix });
    queues.push(created);
    return created;
  };

  it('Worker has its private isRateLimited(), which turns true while the queue’s limit holds the worker back', async () => {
    const method: unknown = (Worker.prototype as unknown as Record<string, unknown>).isRateLimited;
    expect(typeof method, `${CHANGED}: Worker.prototype.isRateLimited() is gone`).toBe('function');
    expect((method as () => unknown).length, `${CHANGED}: Worker.prototype.isRateLimited() takes arguments now`).toBe(0);

    const limited = queue('limited');
    const worker = new Worker(limited.name, async () => 'done', { connection, prefix, limiter: { max: 1, duration: 60_000 } });
    workers.push(worker);
    await worker.waitUntilReady();
    expect(workerIsRateLimited(worker), `${CHANGED}: an idle worker reads as rate-limited`).toBe(false);

    const completed = once(worker, 'completed');
    await limited.addBulk([
      { name: 'first', data: {} },
      { name: 'second', data: {} },
    ]);
    await completed;
    // The second job waits out the 60 s limit: the worker must say so.
    await vi.waitFor(() => expect(workerIsRateLimited(worker), `${CHANGED}: a worker held back by its limiter does not read as rate-limited`).toBe(true), {
      timeout: 10_000,
    });
    expect(await limited.getJobCounts('completed', 'wait')).toEqual({ completed: 1, wait: 1 });
  });
});
