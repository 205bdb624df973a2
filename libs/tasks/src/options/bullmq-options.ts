import type { BackoffOptions as BullBackoff, KeepJobs } from 'bullmq';
import type { BackoffOptions, RetentionOptions } from './tasks-options.interface.js';

/** The library's backoff option in BullMQ's shape. */
export function toBullBackoff({ type, delayMs }: BackoffOptions): BullBackoff {
  return { type, delay: delayMs };
}

/** The library's retention option in BullMQ's shape (`removeOnComplete` / `removeOnFail`). */
export function toKeepJobs({ ageSeconds, count }: RetentionOptions): KeepJobs {
  return { age: ageSeconds, count };
}
