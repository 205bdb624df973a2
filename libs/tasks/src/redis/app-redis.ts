import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisConnections } from './redis-connections.js';

/** Injection token of the shared, namespaced ioredis client; inject it with {@link InjectRedis}. */
export const TASKS_REDIS = Symbol('TASKS_REDIS');

/**
 * Injects the application's shared ioredis client (the seed's `get_redis`):
 *
 * ```ts
 * constructor(@InjectRedis() private readonly redis: Redis) {}   // import type { Redis } from 'ioredis'
 * await this.redis.set('last-import', id);                       // stored as `${TASKS_PREFIX}:app:last-import`
 * ```
 *
 * Every key is namespaced by ioredis `keyPrefix` (see {@link appRedisKeyPrefix}), so
 * user keys can never collide with the queue keys (`${prefix}:tasks:*`, `${prefix}:cron:*`)
 * nor with another deployment sharing the Redis. Commands that take patterns
 * rather than keys (SCAN, KEYS) are not prefixed by ioredis: add the prefix yourself.
 * Do not call `quit()` on it: the library closes it on shutdown.
 */
export const InjectRedis = () => Inject(TASKS_REDIS);

/** The ioredis `keyPrefix` of the {@link InjectRedis} client: `${prefix}:app:`. */
export function appRedisKeyPrefix(prefix: string): string {
  return `${prefix}:app:`;
}

/**
 * The Redis connections the application's code uses directly: the namespaced
 * client behind `@InjectRedis()` (also used to publish events) and the one
 * pub/sub subscriber connection of the process. Both connect on first use, so
 * an app that never touches them opens no connection, and both close on shutdown,
 * after the worker has drained (its running tasks may still use them).
 */
@Injectable()
export class AppRedisConnections implements OnApplicationShutdown {
  readonly client: Redis;
  private subscriberConnection?: Redis;

  constructor(
    @Inject(TASKS_OPTIONS) options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
  ) {
    this.client = connections.create('command', 'app', { keyPrefix: appRedisKeyPrefix(options.prefix), lazyConnect: true });
  }

  /** The process's one subscriber connection (a connection in subscriber mode can run nothing else). */
  get subscriber(): Redis {
    this.subscriberConnection ??= this.connections.create('subscriber', 'events-subscriber', { lazyConnect: true });
    return this.subscriberConnection;
  }

  /** An error's message with the Redis password scrubbed. */
  describe(error: unknown): string {
    return this.connections.describe(error);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([close(this.client), this.subscriberConnection && close(this.subscriberConnection)]);
  }
}

async function close(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  // A lazy client that never connected has nothing to QUIT.
  if (client.status === 'wait') {
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
  // QUIT resolves on the server's reply; the socket closes just after.
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 2_000);
  });
  await Promise.race([ended, stuck]);
  clearTimeout(timer);
  // (ioredis changed the status meanwhile; TypeScript still sees the one checked above.)
  if ((client.status as string) !== 'end') client.disconnect();
}

/** Providers of TasksModule for the `@InjectRedis()` client. */
export const appRedisProviders: Provider[] = [
  AppRedisConnections,
  { provide: TASKS_REDIS, useFactory: (connections: AppRedisConnections) => connections.client, inject: [AppRedisConnections] },
];
