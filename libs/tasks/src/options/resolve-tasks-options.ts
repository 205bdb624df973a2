import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { invalidEnv, invalidTaskOption } from '../errors/tasks.messages.js';
import { redactUrl } from '../redaction/redact.js';
import { parseConnectionUrl } from '../redaction/connection-url.js';
import { parseRedisUrl } from '../redaction/connection-url.js';
import { queueNameProblem } from './task-queue-names.js';
import type { ResolvedTasksOptions, TasksModuleOptions } from './tasks-options.interface.js';
import { REDIS_URL_EXPECTED, optionSources, type EnvOption } from './tasks-options-from-env.js';

export const DEFAULT_TASKS_OPTIONS: ResolvedTasksOptions = {
  redisUrl: 'redis://127.0.0.1:6379',
  prefix: 'tasks',
  concurrency: 10,
  cronConcurrency: 5,
  allowUnregisteredTasks: false,
  shutdownGraceMs: 25_000,
  stalledTimeoutMs: 30_000,
  defaultAttempts: 3,
  defaultBackoff: { type: 'exponential', delayMs: 1_000 },
  keepCompleted: { ageSeconds: 3_600, count: 10_000 },
  keepFailed: { ageSeconds: 7 * 24 * 3_600, count: 10_000 },
  cronRunRetentionDays: 30,
  cronCatchUpMs: 10_000,
  cronSweepIntervalMs: 5_000,
  cronPruneBatchSize: 5_000,
  schedulerLeaseTtlMs: 10_000,
  schedulerLeaseRenewMs: 2_000,
  healthPort: 0,
  healthHost: '127.0.0.1',
  healthMaxPollAgeMs: 30_000,
  queues: {},
  metrics: undefined,
  metricsRegistry: undefined,
  maxPayloadBytes: 1_048_576,
  maxResultBytes: 1_048_576,
  sources: {},
};

/** Fills in the defaults and fails fast, naming the option, on a value the library cannot use. */
export function resolveTasksOptions(options: TasksModuleOptions = {}): ResolvedTasksOptions {
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const resolved = { ...DEFAULT_TASKS_OPTIONS, ...defined, sources: optionSources(options) } as ResolvedTasksOptions;
  validate(resolved);
  return resolved;
}

function validate(o: ResolvedTasksOptions): void {
  const fail = (name: keyof ResolvedTasksOptions, expected: string, shown: unknown = o[name]): never => {
    // A value read from the environment is the variable's: the user fixes it there.
    const variable = o.sources[name as EnvOption];
    if (variable) throw new TasksConfigurationError(invalidEnv(variable, String(shown), expected));
    throw new TasksConfigurationError(invalidTaskOption('TasksModule', name, shown, expected));
  };
  type IntegerOption =
    | 'concurrency'
    | 'cronConcurrency'
    | 'defaultAttempts'
    | 'stalledTimeoutMs'
    | 'cronRunRetentionDays'
    | 'cronCatchUpMs'
    | 'cronSweepIntervalMs'
    | 'cronPruneBatchSize'
    | 'schedulerLeaseTtlMs'
    | 'schedulerLeaseRenewMs'
    | 'shutdownGraceMs'
    | 'maxPayloadBytes'
    | 'maxResultBytes'
    | 'healthPort'
    | 'healthMaxPollAgeMs';
  const integer = (name: IntegerOption, min: number) => {
    if (!Number.isInteger(o[name]) || o[name] < min) fail(name, min === 0 ? 'a non-negative integer' : 'a positive integer');
  };
  integer('concurrency', 1);
  integer('cronConcurrency', 1);
  integer('cronPruneBatchSize', 1);
  integer('schedulerLeaseTtlMs', 100);
  integer('schedulerLeaseRenewMs', 50);
  if (o.schedulerLeaseRenewMs >= o.schedulerLeaseTtlMs) fail('schedulerLeaseRenewMs', `fewer ms than schedulerLeaseTtlMs (${o.schedulerLeaseTtlMs})`);
  integer('cronSweepIntervalMs', 1_000);
  if (o.cronSweepIntervalMs % 1_000 !== 0 || 60 % (o.cronSweepIntervalMs / 1_000) !== 0) {
    fail('cronSweepIntervalMs', 'whole seconds that divide a minute (1000, 2000, 5000, 10000, 15000, 20000, 30000)');
  }
  integer('defaultAttempts', 1);
  integer('stalledTimeoutMs', 1);
  integer('cronRunRetentionDays', 1);
  integer('cronCatchUpMs', 0);
  integer('shutdownGraceMs', 0);
  integer('maxPayloadBytes', 1);
  integer('maxResultBytes', 1);
  integer('healthPort', 0);
  integer('healthMaxPollAgeMs', 1);
  // An idle consumer's poll is a blocking wait of up to 10 s (BullMQ's longest): a bound below it reports healthy workers down.
  if (o.healthMaxPollAgeMs < 11_000) fail('healthMaxPollAgeMs', 'at least 11000 ms, longer than the 10 s an idle worker may block on Redis');
  if (o.metrics !== undefined && typeof o.metrics !== 'boolean') fail('metrics', 'true, false, or unset (on when prom-client is installed)');
  if (o.metricsRegistry !== undefined && typeof (o.metricsRegistry as { getSingleMetric?: unknown } | null)?.getSingleMetric !== 'function') {
    fail('metricsRegistry', "a prom-client Registry (e.g. `register` from 'prom-client')", typeof o.metricsRegistry);
  }
  if (o.healthPort > 65_535) fail('healthPort', 'a TCP port (1-65535), or 0 for no health probes');
  if (typeof o.healthHost !== 'string' || o.healthHost === '') fail('healthHost', 'an address such as 0.0.0.0 or 127.0.0.1');
  if (typeof o.queues !== 'object' || o.queues === null || Array.isArray(o.queues)) fail('queues', 'an object of queue settings by queue name', typeof o.queues);
  for (const [name, queue] of Object.entries(o.queues)) {
    const problem = queueNameProblem(name);
    if (problem) fail('queues', problem, name);
    const { concurrency, rateLimit } = queue ?? {};
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) fail('queues', `a positive integer for ${name}.concurrency`, concurrency);
    if (rateLimit !== undefined) {
      const { max, durationMs } = rateLimit;
      if (!Number.isInteger(max) || max < 1 || !Number.isInteger(durationMs) || durationMs < 1) {
        fail('queues', `${name}.rateLimit as { max, durationMs }, two positive integers`, JSON.stringify(rateLimit));
      }
    }
  }
  if (typeof o.prefix !== 'string' || o.prefix === '' || o.prefix.includes(':')) {
    fail('prefix', 'a non-empty string without ":"');
  }
  if (typeof o.redisUrl !== 'string') fail('redisUrl', REDIS_URL_EXPECTED, typeof o.redisUrl);
  // Never quoted when it does not parse: its password cannot be told apart.
  parseConnectionUrl(o.redisUrl, o.sources.redisUrl ?? 'TasksModule option redisUrl', REDIS_URL_EXPECTED);
  try {
    parseRedisUrl(o.redisUrl);
  } catch (error) {
    fail('redisUrl', `${REDIS_URL_EXPECTED} (${(error as Error).message})`, redactUrl(o.redisUrl));
  }
}
