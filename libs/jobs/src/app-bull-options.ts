import type { QueueOptions } from 'bullmq';
import type { TasksModuleOptions } from 'nestjs-tasks';

/**
 * The app's own `BullModule.forRoot()` settings, for the queues it runs itself
 * with `@Processor` classes: the Redis of REDIS_URL (and REDIS_TLS_CA_FILE) and
 * TASKS_PREFIX as the key prefix, so one deployment (or one test) keeps all its
 * keys under one namespace. The library's queues (`tasks.*`, which it builds
 * itself) never meet these. The connections are named `<prefix>:app:bullmq` in
 * CLIENT LIST (but a Worker's blocking one, which BullMQ names after its queue).
 */
export function appBullOptions({ redisUrl = 'redis://127.0.0.1:6379', redisTls, prefix = 'tasks' }: TasksModuleOptions): QueueOptions {
  // CLIENT SETNAME takes printable ASCII without spaces.
  const connectionName = `${prefix}:app:bullmq`.replace(/[^\w.:-]/g, '_');
  return { connection: { url: redisUrl, connectionName, ...(redisTls ? { tls: redisTls } : {}) }, prefix };
}
