import { CRON_METADATA } from '../options/tasks.constants.js';
import type { CronMetadata } from './cron.decorator.js';

/** Reads what `@Cron()` stored on a method. */
export function getCronMetadata(method: unknown): CronMetadata | undefined {
  if (typeof method !== 'function') return undefined;
  return Reflect.getMetadata(CRON_METADATA, method) as CronMetadata | undefined;
}
