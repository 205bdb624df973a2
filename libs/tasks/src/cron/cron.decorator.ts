import { UseInterceptors, applyDecorators } from '@nestjs/common';
import { CRON_METADATA } from '../tasks.constants.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import {
  invalidCronExpression,
  invalidCronName,
  invalidLockTtl,
  invalidTaskOption,
  unknownTimeZone,
} from '../tasks.messages.js';
import { CronLockInterceptor } from '../lock/cron-lock.interceptor.js';
import { CronRunTrackingInterceptor } from '../tracking/cron-run-tracking.interceptor.js';
import { CronSchedule, isValidTimeZone } from './cron-schedule.js';

/** Options of `@Cron(expression, options)`. */
export interface CronOptions {
  /**
   * Seconds a crashed run can keep the job locked (default 300). A live run
   * extends its lock automatically, however long it takes.
   */
  lockTtl?: number;
  /** IANA time zone the expression is read in. Default `UTC`. */
  timeZone?: string;
  /** Name of the job: its lock key and `job_name` in cron_job_runs. Defaults to the method name. */
  name?: string;
  /** Runs per tick before it is recorded FAILED. Default 1: the next tick is the retry. */
  attempts?: number;
  /** Record runs in cron_job_runs. Default true. */
  track?: boolean;
}

export interface CronMetadata {
  name: string;
  expression: string;
  lockTtlSeconds: number;
  timeZone: string;
  attempts: number;
  track: boolean;
  schedule: CronSchedule;
}

export const DEFAULT_LOCK_TTL_SECONDS = 300;
const CRON_NAME = /^[A-Za-z0-9_.-]{1,200}$/;

/**
 * Marks a provider method as a periodic job. Each tick runs once across all
 * schedulers and workers, under a lock, and is recorded in cron_job_runs.
 *
 * @param expression five fields `minute hour day month weekday`, or six with leading seconds
 * @param lockTtlOrOptions lock TTL in seconds, or options
 */
export function Cron(expression: string, lockTtlOrOptions: number | CronOptions = {}): MethodDecorator {
  const options = typeof lockTtlOrOptions === 'number' ? { lockTtl: lockTtlOrOptions } : lockTtlOrOptions;
  return (target, key, descriptor) => {
    const where = `@Cron() on ${target.constructor.name}.${String(key)}`;
    const metadata = buildCronMetadata(where, String(key), expression, options);
    Reflect.defineMetadata(CRON_METADATA, metadata, descriptor.value as object);
    // The lock and the run record wrap the handler as ordinary Nest interceptors
    // (lock outermost), so user @UseInterceptors compose with them.
    return applyDecorators(UseInterceptors(CronLockInterceptor, CronRunTrackingInterceptor))(target, key, descriptor);
  };
}

export function buildCronMetadata(
  where: string,
  defaultName: string,
  expression: string,
  options: CronOptions,
): CronMetadata {
  const name = options.name ?? defaultName;
  if (typeof name !== 'string' || !CRON_NAME.test(name)) {
    throw new TasksConfigurationError(invalidCronName(where, String(name)));
  }
  const lockTtlSeconds = options.lockTtl ?? DEFAULT_LOCK_TTL_SECONDS;
  if (typeof lockTtlSeconds !== 'number' || !Number.isInteger(lockTtlSeconds) || lockTtlSeconds < 1) {
    throw new TasksConfigurationError(invalidLockTtl(where, lockTtlSeconds));
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
  return { name, expression, lockTtlSeconds, timeZone, attempts, track: options.track ?? true, schedule };
}
