/** The shortest and the longest wait of a job held back for another worker. */
export const HOLD_BACK_FIRST_MS = 1_000;
export const HOLD_BACK_MAX_MS = 5_000;
/** How many times in a row a job is held back for the shortest wait before the waits double. */
const SHORT_WAITS = 10;

/**
 * How long a worker puts back a job of a task it lacks while another running
 * worker has that task, by how many times the job was taken without an attempt
 * (`attemptsStarted - attemptsMade`, this time included): 1 s ten times,
 * then 2 s, 4 s, and 5 s from then on.
 *
 * When the job is due again every idle worker of the queue races for it, this
 * one included (BullMQ cannot hand a job to a given worker), so it may take
 * several rounds to reach a worker that has its task: where two workers lack
 * it for one that has it, a few on average, now and then more than ten.
 * Short first waits keep those rounds to seconds. Only a job that
 * keeps coming back (the workers that have its task are busy) waits longer,
 * so that a burst of such jobs does not keep this worker and Redis busy
 * moving them.
 */
export function holdBackDelayMs(takenWithoutAttempt: number): number {
  const doublings = Number.isNaN(takenWithoutAttempt) ? 0 : Math.max(0, Math.floor(takenWithoutAttempt) - SHORT_WAITS);
  return Math.min(HOLD_BACK_MAX_MS, HOLD_BACK_FIRST_MS * 2 ** Math.min(doublings, 16));
}
