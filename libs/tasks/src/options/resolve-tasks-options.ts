import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { invalidEnv, invalidTaskOption } from '../tasks.messages.js';
import type { ResolvedTasksOptions, TasksModuleOptions } from './tasks-options.interface.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The environment variable behind each option that has one. */
const ENV_NAMES = {
  redisUrl: 'REDIS_URL',
  prefix: 'TASKS_PREFIX',
  concurrency: 'WORKER_CONCURRENCY',
  shutdownGraceMs: 'TASKS_SHUTDOWN_GRACE_MS',
  stalledTimeoutMs: 'TASKS_STALLED_TIMEOUT_MS',
  cronRunRetentionDays: 'TASKS_CRON_RETENTION_DAYS',
} as const satisfies Partial<Record<keyof TasksModuleOptions, string>>;

/** Explicit options win over the environment, which wins over the defaults. */
export function resolveTasksOptions(
  options: TasksModuleOptions = {},
  env: Env = process.env,
): ResolvedTasksOptions {
  const resolved: ResolvedTasksOptions = {
    redisUrl: options.redisUrl ?? envString(env, ENV_NAMES.redisUrl) ?? 'redis://127.0.0.1:6379',
    prefix: options.prefix ?? envString(env, ENV_NAMES.prefix) ?? 'tasks',
    concurrency: options.concurrency ?? envInt(env, ENV_NAMES.concurrency) ?? 10,
    allowUnregisteredTasks: options.allowUnregisteredTasks ?? false,
    shutdownGraceMs: options.shutdownGraceMs ?? envInt(env, ENV_NAMES.shutdownGraceMs) ?? 25_000,
    stalledTimeoutMs: options.stalledTimeoutMs ?? envInt(env, ENV_NAMES.stalledTimeoutMs) ?? 30_000,
    defaultAttempts: options.defaultAttempts ?? 3,
    defaultBackoff: options.defaultBackoff ?? { type: 'exponential', delayMs: 1_000 },
    keepCompleted: options.keepCompleted ?? { ageSeconds: 3_600, count: 10_000 },
    keepFailed: options.keepFailed ?? { ageSeconds: 7 * 24 * 3_600, count: 10_000 },
    cronRunRetentionDays: options.cronRunRetentionDays ?? envInt(env, ENV_NAMES.cronRunRetentionDays) ?? 30,
    cronCatchUpMs: options.cronCatchUpMs ?? 10_000,
  };
  validate(resolved, options, env);
  return resolved;
}

// An empty variable (e.g. `REDIS_URL=` in a compose file) means unset, as for numbers.
function envString(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === '' ? undefined : raw;
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

function validate(o: ResolvedTasksOptions, options: TasksModuleOptions, env: Env): void {
  // Blame what the user actually wrote: the forRoot option, or else the environment variable.
  const fail = (name: keyof ResolvedTasksOptions, expected: string): never => {
    const envName = name in ENV_NAMES ? ENV_NAMES[name as keyof typeof ENV_NAMES] : undefined;
    const raw = envName === undefined ? undefined : envString(env, envName);
    if (options[name] === undefined && envName !== undefined && raw !== undefined) {
      throw new TasksConfigurationError(invalidEnv(envName, raw, expected));
    }
    throw new TasksConfigurationError(invalidTaskOption('TasksModule', name, o[name], expected));
  };
  const positive = (name: 'concurrency' | 'defaultAttempts' | 'stalledTimeoutMs' | 'cronRunRetentionDays') => {
    if (!Number.isInteger(o[name]) || o[name] < 1) fail(name, 'a positive integer');
  };
  positive('concurrency');
  positive('defaultAttempts');
  positive('stalledTimeoutMs');
  positive('cronRunRetentionDays');
  if (!Number.isInteger(o.cronCatchUpMs) || o.cronCatchUpMs < 0) {
    fail('cronCatchUpMs', 'a non-negative integer');
  }
  if (!Number.isInteger(o.shutdownGraceMs) || o.shutdownGraceMs < 0) {
    fail('shutdownGraceMs', 'a non-negative integer');
  }
  if (o.prefix === '' || o.prefix.includes(':')) {
    fail('prefix', 'a non-empty string without ":"');
  }
  try {
    const url = new URL(o.redisUrl);
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(url.protocol);
  } catch {
    fail('redisUrl', 'a URL such as redis://127.0.0.1:6379');
  }
}
