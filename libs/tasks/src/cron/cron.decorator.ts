import { SetMetadata } from '@nestjs/common';
import { CRON_METADATA } from '../module/tasks.constants.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import {
  invalidCronExpression,
  invalidCronName,
  invalidLockTtl,
  invalidTaskOption,
  unknownTimeZone,
} from '../tasks.messages.js';
import { CronSchedule, isValidTimeZone } from './cron-schedule.js';

/** Options of `@Cron(expression, options)`. */
export interface CronOptions {
  /**
   * Milliseconds a crashed run can keep the job locked (default 300000). A
   * live run extends its lock automatically, however long it takes.
   */
  lockTtlMs?: number;
  /** IANA time zone the expression is read in. Default `UTC`. */
  timeZone?: string;
  /** Name of the job: its lock key and `job_name` in cron_job_runs. Defaults to the method name. */
  name?: string;
  /** Runs per tick before it is recorded FAILED. Default 1: the next tick is the retry. */
  attempts?: number;
  /** Record runs in cron_job_runs. Default true. */
  track?: boolean;
}

/** What `@Cron()` stores on a method; read by the explorer at boot. */
export interface CronMetadata {
  readonly name: string;
  readonly expression: string;
  readonly lockTtlMs: number;
  readonly timeZone: string;
  readonly attempts: number;
  readonly track: boolean;
  readonly schedule: CronSchedule;
}

export const DEFAULT_LOCK_TTL_MS = 300_000;
const CRON_NAME = /^[A-Za-z0-9_.-]{1,200}$/;

/**
 * Marks a provider method as a periodic job. Each tick runs once across all
 * schedulers and workers, under a lock, and is recorded in cron_job_runs.
 * The decorator only stores metadata (validated at once, so a bad expression
 * fails at import): the worker runs the job through its run pipeline.
 *
 * @param expression five fields `minute hour day month weekday`, or six with leading seconds
 * @param lockTtlSecondsOrOptions lock TTL in whole seconds, or options (`lockTtlMs` there)
 */
export function Cron(expression: string, lockTtlSecondsOrOptions: number | CronOptions = {}): MethodDecorator {
  return (target, key, descriptor) => {
    const where = `@Cron() on ${target.constructor.name}.${String(key)}`;
    const metadata = buildCronMetadata(where, String(key), expression, lockTtlSecondsOrOptions);
    return SetMetadata(CRON_METADATA, metadata)(target, key, descriptor);
  };
}

export function buildCronMetadata(
  where: string,
  defaultName: string,
  expression: string,
  lockTtlSecondsOrOptions: number | CronOptions,
): CronMetadata {
  let options: CronOptions;
  let lockTtlMs: number;
  if (typeof lockTtlSecondsOrOptions === 'number') {
    const seconds = lockTtlSecondsOrOptions;
    if (!Number.isInteger(seconds) || seconds < 1) throw new TasksConfigurationError(invalidLockTtl(where, 'lockTtl', seconds, 'a positive whole number of seconds'));
    options = {};
    lockTtlMs = seconds * 1_000;
  } else {
    options = lockTtlSecondsOrOptions;
    lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    if (typeof lockTtlMs !== 'number' || !Number.isInteger(lockTtlMs) || lockTtlMs < 100) {
      throw new TasksConfigurationError(invalidLockTtl(where, 'lockTtlMs', lockTtlMs, 'a whole number of milliseconds, at least 100'));
    }
  }
  const name = options.name ?? defaultName;
  if (typeof name !== 'string' || !CRON_NAME.test(name)) {
    throw new TasksConfigurationError(invalidCronName(where, String(name)));
  }
  const timeZone = options.timeZone ?? 'UTC';
  if (!isValidTimeZone(timeZone)) throw new TasksConfigurationError(unknownTimeZone(where, timeZone));
  const attempts = options.attempts ?? 1;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new TasksConfigurationError(invalidTaskOption(where, 'attempts', attempts, 'a positive integer'));
  }
  let schedule: CronSchedule;
  try {
    schedule = new CronSchedule(expression, timeZone);
  } catch (error) {
    throw new TasksConfigurationError(invalidCronExpression(where, String(expression), (error as Error).message));
  }
  return { name, expression, lockTtlMs, timeZone, attempts, track: options.track ?? true, schedule };
}
