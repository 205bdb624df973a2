import { DEFAULT_TASK_QUEUE, taskQueueOf } from '../options/task-queue-names.js';

/**
 * BullMQ keeps its own keys (`meta`, `delayed`, `wait`, `events`, `id`, …)
 * in the same namespace as job ids, so a job id chosen by a user is stored
 * under this prefix: no string a user passes can name one of them, whatever
 * BullMQ adds in a later version. Generated ids (digits) are stored as they are.
 */
const CHOSEN_ID_PREFIX = 'key-';

/** The longest `jobId` or `deduplicate.key`, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 256;

// C0 and C1 controls (NUL, newlines, ESC), format characters (bidi marks,
// embeddings, overrides and isolates, zero-width characters, BOM), line and
// paragraph separators, and unpaired surrogates: in an id they break log
// lines and terminals, or make one id look like another.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const UNPRINTABLE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** Why `value` cannot be a `deduplicate.key`, or undefined when it can. */
export function dedupKeyProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'it must be a non-empty string';
  if (value.length > MAX_KEY_LENGTH) return `it is longer than ${MAX_KEY_LENGTH} characters`;
  const bad = UNPRINTABLE.exec(value);
  if (bad) {
    const codePoint = bad[0].codePointAt(0) as number;
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 'it contains an unpaired surrogate (not valid Unicode)';
    return `it contains the unprintable character ${unicodeName(codePoint)} (control, bidi or zero-width characters are not allowed)`;
  }
  if (value.trim() === '') return 'it is only whitespace';
  if (value.trim() !== value) return 'it must not begin or end with whitespace';
  return undefined;
}

/** Why `value` cannot be a `jobId`, or undefined when it can: a deduplication key's grammar, without ":" or all digits. */
export function jobIdProblem(value: unknown): string | undefined {
  const problem = dedupKeyProblem(value);
  if (problem) return problem;
  if ((value as string).includes(':')) return 'it must not contain ":"';
  if (/^\d+$/.test(value as string)) return 'an all-digit id could collide with generated ids';
  return undefined;
}

/** `value` as a message shows it: quoted, unprintable characters escaped (`\u{202E}`), cut at 40 characters. */
export function showKey(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  const cut = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return `"${cut.replace(UNPRINTABLE_ALL, (char) => `\\u{${(char.codePointAt(0) as number).toString(16).toUpperCase()}}`)}"`;
}

function unicodeName(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The BullMQ deduplication id of a task's `deduplicate.key`: keys are per
 * task, so two tasks with one key never share a job. The task's ":" and "%"
 * are escaped so that the first ":" ends the name.
 */
export function storedDedupId(task: string, key: string): string {
  return `${task.replace(/[%:]/g, (char) => (char === '%' ? '%25' : '%3A'))}:${key}`;
}

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

/**
 * The task queue and BullMQ job id a public job id names; undefined when its
 * id part could not have been handed out (neither generated nor a valid `jobId`).
 */
export function parsePublicJobId(publicId: string): { queue: string; storedId: string } | undefined {
  const colon = publicId.indexOf(':');
  const queue = colon < 0 ? DEFAULT_TASK_QUEUE : publicId.slice(0, colon);
  const id = colon < 0 ? publicId : publicId.slice(colon + 1);
  if (!/^\d+$/.test(id) && jobIdProblem(id) !== undefined) return undefined;
  return { queue, storedId: storedJobId(id) };
}
