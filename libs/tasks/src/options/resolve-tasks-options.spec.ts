import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { resolveTasksOptions } from './resolve-tasks-options.js';
import { tasksOptionsFromEnv } from './tasks-options-from-env.js';

const env = {
  REDIS_URL: 'redis://cache.internal:6380/2',
  TASKS_PREFIX: 'from-env',
  WORKER_CONCURRENCY: '4',
  TASKS_SHUTDOWN_GRACE_MS: '1500',
  TASKS_STALLED_TIMEOUT_MS: '9000',
  TASKS_CRON_RETENTION_DAYS: '7',
};

describe('resolveTasksOptions', () => {
  it('has working local defaults when nothing is set, and reads no environment variable', () => {
    const saved = process.env.TASKS_PREFIX;
    process.env.TASKS_PREFIX = 'must-be-ignored';
    try {
      expect(resolveTasksOptions({})).toMatchObject({
        redisUrl: 'redis://127.0.0.1:6379',
        prefix: 'tasks',
        concurrency: 10,
        allowUnregisteredTasks: false,
        shutdownGraceMs: 25_000,
        stalledTimeoutMs: 30_000,
        defaultAttempts: 3,
        defaultBackoff: { type: 'exponential', delayMs: 1_000 },
        keepCompleted: { ageSeconds: 3_600, count: 10_000 },
        keepFailed: { ageSeconds: 7 * 24 * 3_600, count: 10_000 },
      });
    } finally {
      if (saved === undefined) delete process.env.TASKS_PREFIX;
      else process.env.TASKS_PREFIX = saved;
    }
  });

  it('takes the given options over the defaults, and treats undefined as unset', () => {
    const resolved = resolveTasksOptions({
      redisUrl: 'rediss://:secret@redis.example:6390',
      prefix: 'from-options',
      concurrency: 2,
      shutdownGraceMs: 0,
      stalledTimeoutMs: 500,
      allowUnregisteredTasks: true,
      defaultAttempts: 1,
      defaultBackoff: { type: 'fixed', delayMs: 5 },
      cronCatchUpMs: undefined,
    });
    expect(resolved).toMatchObject({
      redisUrl: 'rediss://:secret@redis.example:6390',
      prefix: 'from-options',
      concurrency: 2,
      shutdownGraceMs: 0,
      stalledTimeoutMs: 500,
      allowUnregisteredTasks: true,
      defaultAttempts: 1,
      defaultBackoff: { type: 'fixed', delayMs: 5 },
      cronCatchUpMs: 10_000,
    });
  });

  it.each([
    [{ concurrency: 0 }, 'option concurrency is 0'],
    [{ defaultAttempts: 0 }, 'option defaultAttempts is 0'],
    [{ shutdownGraceMs: -1 }, 'option shutdownGraceMs is -1'],
    [{ prefix: '' }, 'option prefix is ""'],
    [{ prefix: 'a:b' }, 'option prefix is "a:b"'],
    [{ redisUrl: 'postgres://127.0.0.1' }, 'option redisUrl is "postgres://127.0.0.1"'],
    [{ cronConcurrency: 0 }, 'option cronConcurrency is 0'],
    [{ cronPruneBatchSize: 0 }, 'option cronPruneBatchSize is 0'],
    [{ cronSweepIntervalMs: 7_000 }, 'option cronSweepIntervalMs is 7000, expected whole seconds that divide a minute'],
    [{ cronSweepIntervalMs: 1_500 }, 'option cronSweepIntervalMs is 1500'],
    [{ schedulerLeaseRenewMs: 10_000 }, 'option schedulerLeaseRenewMs is 10000, expected fewer ms than schedulerLeaseTtlMs (10000)'],
  ])('rejects bad option %o, naming it', (options, problem) => {
    const resolve = () => resolveTasksOptions(options);
    expect(resolve).toThrow(TasksConfigurationError);
    expect(resolve).toThrow(`TasksModule: ${problem}`);
  });

  it('never shows the password of a bad redisUrl', () => {
    const resolve = () => resolveTasksOptions({ redisUrl: 'http://:hunter2@127.0.0.1:6379' });
    expect(resolve).toThrow(TasksConfigurationError);
    expect(resolve).not.toThrow('hunter2');
  });

  // Every form a password takes in a URL, each in a URL the check refuses: none is shown.
  it.each([
    ['http://:hunter2@127.0.0.1:6379', /option redisUrl is "http:\/\/:\*\*\*@127\.0\.0\.1:6379"/],
    ['http://127.0.0.1:6379/?password=hunter2', /option redisUrl is "http:\/\/127\.0\.0\.1:6379\/\?password=\*\*\*"/],
    ['redis://:ab/hunter2=@127.0.0.1:6379', /^TasksModule option redisUrl is not a valid URL \(it has a '\/' in the password\? percent-encode it as %2F\)/],
    ['redis://:ab#hunter2@127.0.0.1:6379', /^TasksModule option redisUrl is not a valid URL \(it has a '#' in the password\? percent-encode it as %23\)/],
    ['redis://:hunter2%zz@127.0.0.1:6379', /^TasksModule option redisUrl is not a valid URL \(it has a '%' in the password/],
    ['host=127.0.0.1 password=hunter2', /^TasksModule option redisUrl is not a valid URL \(it is in keyword form/],
  ])('refuses redisUrl %s naming the option and the fault, never the password', (redisUrl, message) => {
    const resolve = () => resolveTasksOptions({ redisUrl });
    expect(resolve).toThrow(TasksConfigurationError);
    expect(resolve).toThrow(message);
    expect(resolve).not.toThrow(/hunter2/);
  });
});

describe('tasksOptionsFromEnv', () => {
  it('maps the documented variables to options', () => {
    expect(tasksOptionsFromEnv(env)).toEqual({
      redisUrl: 'redis://cache.internal:6380/2',
      prefix: 'from-env',
      concurrency: 4,
      shutdownGraceMs: 1_500,
      stalledTimeoutMs: 9_000,
      cronRunRetentionDays: 7,
    });
  });

  it('maps the cron and scheduler periods, so tests and small deployments can shorten them', () => {
    expect(
      tasksOptionsFromEnv({
        CRON_CONCURRENCY: '2',
        TASKS_CRON_CATCH_UP_MS: '0',
        TASKS_CRON_SWEEP_MS: '1000',
        TASKS_SCHEDULER_LEASE_TTL_MS: '3000',
        TASKS_SCHEDULER_LEASE_RENEW_MS: '500',
      }),
    ).toEqual({ cronConcurrency: 2, cronCatchUpMs: 0, cronSweepIntervalMs: 1_000, schedulerLeaseTtlMs: 3_000, schedulerLeaseRenewMs: 500 });
  });

  it('maps the metrics switch and the worker poll bound, and rejects anything but true or false', () => {
    expect(tasksOptionsFromEnv({ TASKS_METRICS: 'false', TASKS_HEALTH_MAX_POLL_AGE_MS: '15000' })).toEqual({ metrics: false, healthMaxPollAgeMs: 15_000 });
    expect(() => resolveTasksOptions({ healthMaxPollAgeMs: 5_000 })).toThrow('at least 11000 ms');
    expect(tasksOptionsFromEnv({ TASKS_METRICS: 'true' })).toEqual({ metrics: true });
    expect(() => tasksOptionsFromEnv({ TASKS_METRICS: 'yes' })).toThrow('TASKS_METRICS');
    expect(() => resolveTasksOptions({ metricsRegistry: {} as never })).toThrow('metricsRegistry');
    expect(() => resolveTasksOptions({ metrics: 'on' as never })).toThrow('metrics');
  });

  it('leaves out unset and empty variables, so the defaults apply', () => {
    const empty = { REDIS_URL: '', TASKS_PREFIX: '', WORKER_CONCURRENCY: '', TASKS_SHUTDOWN_GRACE_MS: '', TASKS_STALLED_TIMEOUT_MS: '' };
    expect(tasksOptionsFromEnv(empty)).toEqual({});
    expect(tasksOptionsFromEnv({})).toEqual({});
    expect(resolveTasksOptions(tasksOptionsFromEnv({}))).toEqual(resolveTasksOptions({}));
  });

  it.each([
    ['WORKER_CONCURRENCY', 'ten'],
    ['WORKER_CONCURRENCY', '-1'],
    ['WORKER_CONCURRENCY', '1.5'],
    ['WORKER_CONCURRENCY', '0'],
    ['TASKS_SHUTDOWN_GRACE_MS', '5s'],
    ['TASKS_STALLED_TIMEOUT_MS', '0'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', 'not a url'],
    ['TASKS_PREFIX', 'a:b'],
  ])('rejects %s=%s, naming the variable', (name, value) => {
    const read = () => tasksOptionsFromEnv({ [name]: value });
    expect(read).toThrow(TasksConfigurationError);
    expect(read).toThrow(name);
  });

  it('never echoes the password of a malformed REDIS_URL', () => {
    const read = () => tasksOptionsFromEnv({ REDIS_URL: 'redis://:hunter2@[bad' });
    expect(read).toThrow('REDIS_URL');
    expect(read).not.toThrow('hunter2');
  });

  it.each([
    ['redis://:ab/hunter2+ef=@127.0.0.1:6379', "REDIS_URL is not a valid URL (it has a '/' in the password? percent-encode it as %2F)"],
    ['redis://:ab?hunter2@127.0.0.1:6379', "REDIS_URL is not a valid URL (it has a '?' in the password? percent-encode it as %3F)"],
    ['host=127.0.0.1 password=hunter2', 'REDIS_URL is not a valid URL (it is in keyword form (host=… password=…), not a URL)'],
    ['redis://:hunter2@cache:99999', 'REDIS_URL is not a valid URL (its port is not a number from 0 to 65535)'],
    ['ftp://:hunter2@127.0.0.1/?password=hunter2', 'Environment variable REDIS_URL="ftp://:***@127.0.0.1/?password=***" is invalid: expected a redis:// or rediss:// URL'],
  ])('refuses REDIS_URL=%s saying what is wrong, never quoting the password', (value, message) => {
    const read = () => tasksOptionsFromEnv({ REDIS_URL: value });
    expect(read).toThrow(TasksConfigurationError);
    expect(read).toThrow(message);
    expect(read).not.toThrow(/hunter2/);
  });
});

describe('REDIS_TLS_CA_FILE', () => {
  it('reads the CA file into redisTls, and names the variable when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-ca-'));
    try {
      const file = join(dir, 'ca.pem');
      writeFileSync(file, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      expect(tasksOptionsFromEnv({ REDIS_TLS_CA_FILE: file }).redisTls?.ca).toContain('BEGIN CERTIFICATE');
      const missing = () => tasksOptionsFromEnv({ REDIS_TLS_CA_FILE: join(dir, 'nope.pem') });
      expect(missing).toThrow(TasksConfigurationError);
      expect(missing).toThrow('REDIS_TLS_CA_FILE');
      expect(missing).toThrow('ENOENT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
