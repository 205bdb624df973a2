import type { RegisteredCron } from './cron.catalog.js';
import type { MissedTick } from './catch-up-policy.js';

/** What firing ticks needs of a scheduler: its schedule store, its run store and its queue. */
export interface TickFiring {
  /** Notes `tick` as the cron's latest in the schedule store: whether the cron is paused, and the latest tick noted before. */
  beforeTick(cron: RegisteredCron, tick: number, next: number): Promise<{ paused: boolean; previousTick: number | undefined }>;
  /** Records ticks MISSED (catch-up). */
  recordMissed(cron: RegisteredCron, missed: readonly MissedTick[]): Promise<void>;
  /** Adds the tick's job to the cron queue. */
  enqueue(cron: RegisteredCron, tick: number): Promise<void>;
}

/**
 * What a scheduler does at a tick, or with a catch-up plan: asks the
 * schedule store whether the cron is paused (noting the newest tick), records
 * the `missed` ticks, then enqueues `ticks`. False when the cron is paused
 * (nothing recorded, nothing enqueued).
 */
export async function fireTicks(firing: TickFiring, cron: RegisteredCron, ticks: readonly number[], missed: readonly MissedTick[], next: number): Promise<boolean> {
  // Nothing fell due (a catch-up plan with nothing in it): nothing to note either.
  if (ticks.length === 0 && missed.length === 0) return true;
  const newest = Math.max(...ticks, ...missed.map((m) => m.tick));
  const { paused, previousTick } = await firing.beforeTick(cron, newest, next);
  if (paused) return false;
  // A tick another replica already noted is its to fire: recording it MISSED here
  // could beat that replica's run to the row. Enqueueing it again is harmless.
  const unclaimed = missed.filter((m) => previousTick === undefined || m.tick > previousTick);
  if (unclaimed.length > 0) await firing.recordMissed(cron, unclaimed);
  for (const tick of ticks) await firing.enqueue(cron, tick);
  return true;
}
