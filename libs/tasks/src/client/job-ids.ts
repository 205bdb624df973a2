import { DEFAULT_TASK_QUEUE, taskQueueOf } from '../queues/task-queue-names.js';

/**
 * BullMQ keeps its own keys (`meta`, `delayed`, `wait`, `events`, `id`, …)
 * in the same namespace as job ids, so a job id chosen by a user is stored
 * under this prefix: no string a user passes can name one of them, whatever
 * BullMQ adds in a later version. Generated ids (digits) are stored as they are.
 */
const CHOSEN_ID_PREFIX = 'key-';

/** The BullMQ job id of a job id a user chose or `enqueue` returned (without its queue). */
export function storedJobId(id: string): string {
  return /^\d+$/.test(id) ? id : `${CHOSEN_ID_PREFIX}${id}`;
}

/**
 * The job id users see for a BullMQ job id. Job ids are per queue, so a job
 * of another queue than the default one is named `<queue>:<id>` (`reports:12`);
 * chosen ids cannot contain ":".
 */
export function publicJobId(storedId: string, bullQueue?: string): string {
  const id = storedId.startsWith(CHOSEN_ID_PREFIX) ? storedId.slice(CHOSEN_ID_PREFIX.length) : storedId;
  const queue = bullQueue === undefined ? DEFAULT_TASK_QUEUE : taskQueueOf(bullQueue);
  // Cron jobs are named by their tick (`name@tick`), never looked up by a public id.
  return queue === DEFAULT_TASK_QUEUE || queue === 'cron' ? id : `${queue}:${id}`;
}

/** The task queue and BullMQ job id a public job id names. */
export function parsePublicJobId(publicId: string): { queue: string; storedId: string } {
  const colon = publicId.indexOf(':');
  if (colon < 0) return { queue: DEFAULT_TASK_QUEUE, storedId: storedJobId(publicId) };
  return { queue: publicId.slice(0, colon), storedId: storedJobId(publicId.slice(colon + 1)) };
}
