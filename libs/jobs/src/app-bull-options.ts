import type { QueueOptions } from 'bullmq';
import type { TasksModuleOptions } from 'nestjs-tasks';

/**
 * The app's own `BullModule.forRoot()` settings, for the queues it runs itself
 * with `@Processor` classes: the Redis of REDIS_URL (and REDIS_TLS_CA_FILE) and
 * TASKS_PREFIX as the key prefix, so one deployment (or one test) keeps all its
 * keys under one namespace. The library's queues (`tasks.*`, under its own
 * configKey) never meet these.
 */
export function appBullOptions({ redisUrl = 'redis://127.0.0.1:6379', redisTls, prefix = 'tasks' }: TasksModuleOptions): QueueOptions {
  return { connection: { url: redisUrl, ...(redisTls ? { tls: redisTls } : {}) }, prefix };
}
