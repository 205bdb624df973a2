/**
 * BullMQ keeps its own keys (`meta`, `delayed`, `wait`, `events`, `id`, …)
 * in the same namespace as job ids, so a job id chosen by a user is stored
 * under this prefix: no string a user passes can name one of them, whatever
 * BullMQ adds in a later version. Generated ids (digits) are stored as they are.
 */
const CHOSEN_ID_PREFIX = 'key-';

/** The BullMQ job id of a public job id (one `enqueue` returned, or a user chose). */
export function storedJobId(publicId: string): string {
  return /^\d+$/.test(publicId) ? publicId : `${CHOSEN_ID_PREFIX}${publicId}`;
}

/** The job id users see for a BullMQ job id. */
export function publicJobId(storedId: string): string {
  return storedId.startsWith(CHOSEN_ID_PREFIX) ? storedId.slice(CHOSEN_ID_PREFIX.length) : storedId;
}
