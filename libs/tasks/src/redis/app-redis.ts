import { Inject, type Provider } from '@nestjs/common';
import { RedisClients, appRedisKeyPrefix } from './redis-clients.js';

export { appRedisKeyPrefix };

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
 * It connects on first use and the library closes it on shutdown, after the
 * worker has drained: do not call `quit()` on it.
 */
export const InjectRedis = () => Inject(TASKS_REDIS);

/** Providers of TasksModule for the `@InjectRedis()` client. */
export const appRedisProviders: Provider[] = [{ provide: TASKS_REDIS, useFactory: (clients: RedisClients) => clients.app, inject: [RedisClients] }];
