import type { CronCatchUp } from './cron.decorator.js';
import type { CronSchedule } from './cron-schedule.js';

/**
 * A tick is superseded once the tick after it has been due this long: with
 * `catchUp: 'skip'` or `'latest'` only the newest due tick runs, so a backlog
 * (workers down, a frozen scheduler) drains as one run, not a burst.
 */
export const SUPERSEDE_AFTER_MS = 1_000;
/** At most this many missed ticks of one cron are recorded row by row in one catch-up; older ones are counted in the log. */
export const MAX_MISSED_ROWS = 1_000;

/** The parts of a cron its catch-up policy needs. */
export interface CatchUpSubject {
  readonly catchUp: CronCatchUp;
  readonly schedule: CronSchedule;
}

/** A tick that will not run, and why (stored as the MISSED row's reason). */
export interface MissedTick {
  readonly tick: number;
  readonly reason: string;
}

/** Ticks to fire now and ticks to record MISSED, oldest first. */
export interface CatchUpPlan {
  readonly fire: number[];
  readonly missed: MissedTick[];
  /** Missed ticks older than the {@link MAX_MISSED_ROWS} recorded ones. */
  readonly uncounted: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Why a scheduled tick taken at `now` (by a worker, or by a scheduler firing
 * it late) must not run under the cron's catch-up policy; undefined when it
 * runs. `graceMs` is the `'skip'` window (`cronCatchUpMs`).
 */
export function missedReason(cron: CatchUpSubject, tick: number, now: number, graceMs: number): string | undefined {
  const age = now - tick;
  const { catchUp } = cron;
  if (typeof catchUp === 'object') {
    return age > catchUp.windowMs ? `${age} ms late, past its catch-up window of ${catchUp.windowMs} ms` : undefined;
  }
  // The next tick comes after this one, so a tick taken within SUPERSEDE_AFTER_MS of
  // its time cannot be superseded: a worker taking a fresh tick does not ask croner.
  if (age > SUPERSEDE_AFTER_MS) {
    const next = cron.schedule.nextTick(tick);
    if (next <= now - SUPERSEDE_AFTER_MS) return `superseded by the tick of ${iso(next)}, due before this one could start`;
  }
  if (catchUp === 'skip' && age > graceMs) return `${age} ms late, past the catch-up grace of ${graceMs} ms (catchUp: 'skip')`;
  return undefined;
}

/**
 * What to do with the ticks in (`after`, `now`] that no scheduler fired:
 * after a scheduler outage (`after` is the last tick any scheduler fired) or
 * a freeze of this process (`after` is just before the tick it slept through).
 * A tick whose successor is due within {@link SUPERSEDE_AFTER_MS} is left to
 * that successor, so a scheduler booting just before a tick does not fire two
 * runs back to back.
 */
export function planCatchUp(cron: CatchUpSubject, after: number, now: number, graceMs: number): CatchUpPlan {
  const recent = cron.schedule.previousTicks(now, after, MAX_MISSED_ROWS + 1);
  const uncounted = recent.length > MAX_MISSED_ROWS;
  const ticks = recent.slice(0, MAX_MISSED_ROWS).reverse();
  const upcoming = cron.schedule.nextTick(now);
  const fire: number[] = [];
  const missed: MissedTick[] = [];
  ticks.forEach((tick, index) => {
    const newest = index === ticks.length - 1;
    let reason = missedReason(cron, tick, now, graceMs);
    if (!reason && typeof cron.catchUp !== 'object') {
      if (!newest) reason = `superseded by the tick of ${iso(ticks[ticks.length - 1])}`;
      else if (upcoming - now < SUPERSEDE_AFTER_MS) reason = `superseded by the tick of ${iso(upcoming)}, due moments later`;
    }
    if (reason) missed.push({ tick, reason: `Missed: ${reason}` });
    else fire.push(tick);
  });
  return { fire, missed, uncounted };
}

/**
 * Where a booting scheduler's catch-up starts for a cron: after the last tick
 * any scheduler noted. Without one (a new cron, a new table) nothing was
 * missed: only the tick in progress is looked at (unless the next one is
 * moments away), so a first boot neither drops it nor records ticks no one
 * ever scheduled.
 */
export function catchUpAfterBoot(cron: CatchUpSubject, lastTick: number | undefined, now: number, graceMs: number): number {
  if (lastTick !== undefined) return lastTick;
  const previous = cron.schedule.previousTick(now);
  const inProgress = previous !== undefined && now - previous <= graceMs && cron.schedule.nextTick(now) - now >= SUPERSEDE_AFTER_MS;
  return inProgress ? previous - 1 : now;
}
