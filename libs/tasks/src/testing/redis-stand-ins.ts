import type { Provider } from '@nestjs/common';
import { CRON_QUEUE_TOKEN, TASKS_QUEUE_TOKEN } from '../options/tasks.constants.js';
import { TASKS_REDIS } from '../redis/app-redis.js';
import { TasksQueues } from '../queues/tasks-queues.js';
import { TasksHealthIndicator, type TasksHealthResult } from '../health/tasks-health.indicator.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { needsRealStack } from './testing.messages.js';

/**
 * Names that Nest, test runners and `util.inspect` look up on any provider
 * or printed value (lifecycle hooks, thenables, matchers): answered with
 * nothing, so that merely holding a stand-in never throws.
 */
const LOOKED_UP_BY_TOOLS = new Set([
  'then',
  'toJSON',
  'asymmetricMatch',
  '$$typeof',
  'nodeType',
  'onModuleInit',
  'onApplicationBootstrap',
  'onModuleDestroy',
  'beforeApplicationShutdown',
  'onApplicationShutdown',
]);

/** What a stand-in is, to Nest's discovery and to a reader of a stack or a printout. */
class RedisStandIn {}

/**
 * What the kit injects where the app asks for a Redis-backed object
 * (a BullMQ queue, the app's Redis client): the module compiles and the
 * providers that hold one are built, and the first call on it fails with a
 * message naming it and what to do instead.
 */
function standIn(what: string): object {
  return new Proxy(new RedisStandIn(), {
    get: (target, key) => {
      // Symbols, and what every object has (`constructor`, `hasOwnProperty`, …): as any object answers.
      if (typeof key === 'symbol' || key in target) return Reflect.get(target, key) as unknown;
      if (LOOKED_UP_BY_TOOLS.has(key)) return undefined;
      return () => {
        throw new TasksConfigurationError(needsRealStack(what, key));
      };
    },
  });
}

/** The kit's answer to each health check: up, said to be the kit's. */
const kitIsUp = <Key extends string>(key: Key): Promise<TasksHealthResult<Key>> => {
  const result = {} as TasksHealthResult<Key>;
  result[key] = { status: 'up', testing: 'TasksTestingModule: no Redis, no Postgres' };
  return Promise.resolve(result);
};

/**
 * The kit's health indicator: a controller or probe that injects
 * `TasksHealthIndicator` works under the kit, and every check is up (there
 * is nothing to be down). Whether the real checks report an outage is for a
 * real-stack test.
 */
const kitHealth: Pick<TasksHealthIndicator, 'worker' | 'scheduler' | 'redis' | 'database' | 'cronLate'> = {
  worker: (key = 'worker' as never) => kitIsUp(key),
  scheduler: (key = 'scheduler' as never) => kitIsUp(key),
  redis: (key = 'redis' as never) => kitIsUp(key),
  database: (key = 'database' as never) => kitIsUp(key),
  cronLate: (name, _graceMs, key = `cron:${name}` as never) => kitIsUp(key),
};

/** What `TasksModule` exports that lives in Redis, as the kit provides it (see {@link standIn}). */
export const redisStandInProviders: Provider[] = [
  { provide: TASKS_QUEUE_TOKEN, useFactory: () => standIn('The task queue (TASKS_QUEUE_TOKEN)') },
  { provide: CRON_QUEUE_TOKEN, useFactory: () => standIn('The cron queue (CRON_QUEUE_TOKEN)') },
  { provide: TASKS_REDIS, useFactory: () => standIn('The app Redis client (@InjectRedis())') },
  { provide: TasksQueues, useFactory: () => standIn('TasksQueues') },
  { provide: TasksHealthIndicator, useValue: kitHealth },
];

export const redisStandInExports = [TASKS_QUEUE_TOKEN, CRON_QUEUE_TOKEN, TASKS_REDIS, TasksQueues, TasksHealthIndicator];
