import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { invalidEnv, invalidTaskOption } from '../tasks.messages.js';
import type { ResolvedTasksOptions, TasksModuleOptions } from './tasks-options.interface.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Explicit options win over the environment, which wins over the defaults. */
export function resolveTasksOptions(
  options: TasksModuleOptions = {},
  env: Env = process.env,
): ResolvedTasksOptions {
  const resolved: ResolvedTasksOptions = {
    redisUrl: options.redisUrl ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    prefix: options.prefix ?? env.TASKS_PREFIX ?? 'tasks',
    concurrency: options.concurrency ?? envInt(env, 'WORKER_CONCURRENCY') ?? 10,
    allowUnregisteredTasks: options.allowUnregisteredTasks ?? false,
    shutdownGraceMs: options.shutdownGraceMs ?? envInt(env, 'TASKS_SHUTDOWN_GRACE_MS') ?? 25_000,
    stalledTimeoutMs: options.stalledTimeoutMs ?? envInt(env, 'TASKS_STALLED_TIMEOUT_MS') ?? 30_000,
    defaultAttempts: options.defaultAttempts ?? 3,
    defaultBackoff: options.defaultBackoff ?? { type: 'exponential', delayMs: 1_000 },
    keepCompleted: options.keepCompleted ?? { ageSeconds: 3_600, count: 10_000 },
    keepFailed: options.keepFailed ?? { ageSeconds: 7 * 24 * 3_600, count: 10_000 },
  };
  validate(resolved);
  return resolved;
}

function envInt(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new TasksConfigurationError(invalidEnv(name, raw, 'a non-negative integer'));
  }
  return value;
}

function validate(o: ResolvedTasksOptions): void {
  const where = 'TasksModule';
  const positive = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 1) {
      throw new TasksConfigurationError(invalidTaskOption(where, name, value, 'a positive integer'));
    }
  };
  positive('concurrency', o.concurrency);
  positive('defaultAttempts', o.defaultAttempts);
  positive('stalledTimeoutMs', o.stalledTimeoutMs);
  if (!Number.isInteger(o.shutdownGraceMs) || o.shutdownGraceMs < 0) {
    throw new TasksConfigurationError(
      invalidTaskOption(where, 'shutdownGraceMs', o.shutdownGraceMs, 'a non-negative integer'),
    );
  }
  if (o.prefix === '' || o.prefix.includes(':')) {
    throw new TasksConfigurationError(
      invalidTaskOption(where, 'prefix', o.prefix, 'a non-empty string without ":"'),
    );
  }
  try {
    const url = new URL(o.redisUrl);
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(url.protocol);
  } catch {
    throw new TasksConfigurationError(
      invalidTaskOption(where, 'redisUrl', o.redisUrl, 'a URL such as redis://127.0.0.1:6379'),
    );
  }
}
