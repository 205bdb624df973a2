import { readFileSync } from 'node:fs';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { invalidEnv } from '../errors/tasks.messages.js';
import { redactUrl } from '../redaction/redact.js';
import { parseConnectionUrl } from '../redaction/connection-url.js';
import type { TasksModuleOptions } from './tasks-options.interface.js';
import { TASKS_ENV_VARIABLES, type EnvOption, type OptionSources } from './env-variables.js';

export { TASKS_ENV_VARIABLES, type EnvOption, type OptionSources };

// Every variable feeds an option of that name.
TASKS_ENV_VARIABLES satisfies Partial<Record<keyof TasksModuleOptions, string>>;

type Env = Readonly<Record<string, string | undefined>>;

// What the last tasksOptionsFromEnv() call returned, by option. Kept by value
// because the options reach TasksModule spread into objects of the app's own
// (`{ ...tasksOptionsFromEnv(), prefix: 'x' }`, a forRootAsync factory), and
// an option the app overrode no longer holds the value read. The values stay
// in this module: nothing reads them but optionSources().
const lastRead = new Map<EnvOption, unknown>();

/** The sources of `options`: an option holding the value the environment last gave it counts as read from there. */
export function optionSources(options: TasksModuleOptions): OptionSources {
  const sources: Partial<Record<EnvOption, string>> = {};
  for (const [option, value] of lastRead) {
    if (options[option] === value) sources[option] = TASKS_ENV_VARIABLES[option];
  }
  return sources;
}

/**
 * TasksModule options from the documented environment variables (REDIS_URL,
 * REDIS_TLS_CA_FILE, TASKS_PREFIX, WORKER_CONCURRENCY, CRON_CONCURRENCY,
 * TASKS_SHUTDOWN_GRACE_MS, TASKS_STALLED_TIMEOUT_MS, TASKS_CRON_RETENTION_DAYS,
 * TASKS_CRON_CATCH_UP_MS, TASKS_CRON_SWEEP_MS, TASKS_SCHEDULER_LEASE_TTL_MS,
 * TASKS_SCHEDULER_LEASE_RENEW_MS, TASKS_HEALTH_PORT, TASKS_HEALTH_HOST,
 * TASKS_HEALTH_MAX_POLL_AGE_MS, TASKS_METRICS). Unset or empty
 * variables are left out, so defaults (or options spread after) apply:
 *
 * ```ts
 * TasksModule.forRoot({ ...tasksOptionsFromEnv(), allowUnregisteredTasks: true })
 * ```
 *
 * Throws `TasksConfigurationError` naming the variable when a value is malformed
 * (or the CA file cannot be read). Later messages about an option read here
 * (Redis unreachable, a value the options check rejects) name its variable too;
 * an option the app sets itself is named as an option.
 */
export function tasksOptionsFromEnv(env: Env = process.env): TasksModuleOptions {
  const options: TasksModuleOptions = {};
  const redisUrl = envString(env, TASKS_ENV_VARIABLES.redisUrl);
  if (redisUrl !== undefined) options.redisUrl = redisUrl;
  const prefix = envString(env, TASKS_ENV_VARIABLES.prefix);
  if (prefix !== undefined) {
    if (prefix.includes(':')) throw new TasksConfigurationError(invalidEnv(TASKS_ENV_VARIABLES.prefix, prefix, 'a string without ":"'));
    options.prefix = prefix;
  }
  const integers = [
    'concurrency',
    'cronConcurrency',
    'shutdownGraceMs',
    'stalledTimeoutMs',
    'cronRunRetentionDays',
    'cronCatchUpMs',
    'cronSweepIntervalMs',
    'schedulerLeaseTtlMs',
    'schedulerLeaseRenewMs',
    'healthPort',
    'healthMaxPollAgeMs',
  ] as const;
  for (const key of integers) {
    const value = envInt(env, TASKS_ENV_VARIABLES[key], key === 'shutdownGraceMs' || key === 'cronCatchUpMs' || key === 'healthPort' ? 0 : 1);
    if (value !== undefined) options[key] = value;
  }
  const metrics = envString(env, TASKS_ENV_VARIABLES.metrics);
  if (metrics !== undefined) {
    if (metrics !== 'true' && metrics !== 'false') throw new TasksConfigurationError(invalidEnv(TASKS_ENV_VARIABLES.metrics, metrics, 'true or false'));
    options.metrics = metrics === 'true';
  }
  const healthHost = envString(env, TASKS_ENV_VARIABLES.healthHost);
  if (healthHost !== undefined) options.healthHost = healthHost;
  if (redisUrl !== undefined) assertRedisUrl(redisUrl);
  const caFile = envString(env, TASKS_ENV_VARIABLES.redisTls);
  if (caFile !== undefined) options.redisTls = { ca: readCa(caFile) };
  lastRead.clear();
  for (const option of Object.keys(TASKS_ENV_VARIABLES) as EnvOption[]) {
    if (options[option] !== undefined) lastRead.set(option, options[option]);
  }
  return options;
}

// An empty variable (e.g. `REDIS_URL=` in a compose file) means unset.
function envString(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === '' ? undefined : raw;
}

function envInt(env: Env, name: string, min: number): number | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(value) || value < min) {
    throw new TasksConfigurationError(invalidEnv(name, raw, min === 0 ? 'a non-negative integer' : 'a positive integer'));
  }
  return value;
}

// The PEM file of the CA that signed the Redis server's certificate.
function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new TasksConfigurationError(
      invalidEnv(TASKS_ENV_VARIABLES.redisTls, file, `a readable PEM file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`),
    );
  }
}

function assertRedisUrl(url: string): void {
  const { protocol } = parseConnectionUrl(url, TASKS_ENV_VARIABLES.redisUrl, REDIS_URL_EXPECTED);
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new TasksConfigurationError(invalidEnv(TASKS_ENV_VARIABLES.redisUrl, redactUrl(url), 'a redis:// or rediss:// URL'));
  }
}

/** What a Redis URL looks like, for messages about one that is not. */
export const REDIS_URL_EXPECTED = 'a URL such as redis://127.0.0.1:6379 or rediss://:PASSWORD@HOST:6380/0';
