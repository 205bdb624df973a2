import { describe, expect, it } from 'vitest';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { resolveTasksOptions } from './resolve-tasks-options.js';

const env = {
  REDIS_URL: 'redis://cache.internal:6380/2',
  TASKS_PREFIX: 'from-env',
  WORKER_CONCURRENCY: '4',
  TASKS_SHUTDOWN_GRACE_MS: '1500',
  TASKS_STALLED_TIMEOUT_MS: '9000',
};

describe('resolveTasksOptions', () => {
  it('has working local defaults when nothing is set', () => {
    expect(resolveTasksOptions({}, {})).toMatchObject({
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
  });

  it('takes the environment over the defaults', () => {
    expect(resolveTasksOptions({}, env)).toMatchObject({
      redisUrl: 'redis://cache.internal:6380/2',
      prefix: 'from-env',
      concurrency: 4,
      shutdownGraceMs: 1_500,
      stalledTimeoutMs: 9_000,
    });
  });

  it('takes forRoot options over the environment', () => {
    const resolved = resolveTasksOptions(
      {
        redisUrl: 'rediss://:secret@redis.example:6390',
        prefix: 'from-options',
        concurrency: 2,
        shutdownGraceMs: 0,
        stalledTimeoutMs: 500,
        allowUnregisteredTasks: true,
        defaultAttempts: 1,
        defaultBackoff: { type: 'fixed', delayMs: 5 },
      },
      env,
    );
    expect(resolved).toMatchObject({
      redisUrl: 'rediss://:secret@redis.example:6390',
      prefix: 'from-options',
      concurrency: 2,
      shutdownGraceMs: 0,
      stalledTimeoutMs: 500,
      allowUnregisteredTasks: true,
      defaultAttempts: 1,
      defaultBackoff: { type: 'fixed', delayMs: 5 },
    });
  });

  it('treats an empty environment variable as unset', () => {
    const empty = { REDIS_URL: '', TASKS_PREFIX: '', WORKER_CONCURRENCY: '', TASKS_SHUTDOWN_GRACE_MS: '', TASKS_STALLED_TIMEOUT_MS: '' };
    expect(resolveTasksOptions({}, empty)).toEqual(resolveTasksOptions({}, {}));
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
    const resolve = () => resolveTasksOptions({}, { [name]: value });
    expect(resolve).toThrow(TasksConfigurationError);
    expect(resolve).toThrow(name);
  });

  it.each([
    [{ concurrency: 0 }, 'option concurrency is 0'],
    [{ defaultAttempts: 0 }, 'option defaultAttempts is 0'],
    [{ shutdownGraceMs: -1 }, 'option shutdownGraceMs is -1'],
    [{ prefix: '' }, 'option prefix is ""'],
    [{ redisUrl: 'postgres://127.0.0.1' }, 'option redisUrl is "postgres://127.0.0.1"'],
  ])('rejects bad forRoot option %o', (options, problem) => {
    const resolve = () => resolveTasksOptions(options, {});
    expect(resolve).toThrow(TasksConfigurationError);
    expect(resolve).toThrow(`TasksModule: ${problem}`);
  });
});
