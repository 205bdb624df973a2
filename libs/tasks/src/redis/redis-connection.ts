import type { RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { ServiceUnreachableError } from '../errors/tasks.errors.js';
import { redisUnreachable } from '../tasks.messages.js';

/** ioredis options from a `redis://` or `rediss://` URL (BullMQ takes options, not URLs). */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db,
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * Fails within `timeoutMs` with a message that says how to start Redis,
 * instead of letting ioredis retry silently forever at boot.
 */
export async function assertRedisReachable(url: string, timeoutMs = 3_000): Promise<void> {
  const client = new Redis({
    ...redisOptionsFromUrl(url),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // ioredis reports the real cause (ECONNREFUSED, ENOTFOUND) as an 'error'
  // event and rejects connect() with a bare "Connection is closed".
  let cause: Error | undefined;
  client.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new ServiceUnreachableError(redisUnreachable(url, (cause ?? (error as Error)).message));
  } finally {
    client.disconnect();
  }
}
