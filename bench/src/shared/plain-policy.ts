import type { JobsOptions, WorkerOptions } from 'bullmq';
import { DEFAULT_TASKS_OPTIONS, toBullBackoff, toKeepJobs } from '#nestjs-tasks-internal';

/**
 * What a plain BullMQ baseline is configured with.
 *
 * - `library`: the job and worker settings the library applies by default
 *   (3 attempts with exponential backoff; finished jobs trimmed to 1 h / 10,000),
 *   set by hand on plain BullMQ. The processing targets compare with this one:
 *   it leaves the library's own code as the only difference, where BullMQ's
 *   defaults would also count the Redis work of a retention policy that no
 *   production deployment goes without (BullMQ keeps every job forever by default).
 * - `defaults`: BullMQ's bare defaults (no retries, every finished job kept), as a reference.
 */
export type PlainPolicy = 'library' | 'defaults';

export interface PlainSettings {
  job: JobsOptions;
  worker: Pick<WorkerOptions, 'removeOnComplete' | 'removeOnFail'>;
}

export function plainSettings(policy: PlainPolicy): PlainSettings {
  if (policy === 'defaults') return { job: {}, worker: {} };
  const { defaultAttempts, defaultBackoff, keepCompleted, keepFailed } = DEFAULT_TASKS_OPTIONS;
  return {
    job: { attempts: defaultAttempts, backoff: toBullBackoff(defaultBackoff) },
    worker: {
      removeOnComplete: toKeepJobs(keepCompleted),
      removeOnFail: toKeepJobs(keepFailed),
    },
  };
}
