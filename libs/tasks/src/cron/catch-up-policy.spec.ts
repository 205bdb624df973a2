import { describe, expect, it, vi } from 'vitest';
import { MAX_MISSED_ROWS, SUPERSEDE_AFTER_MS, missedReason, planCatchUp, type CatchUpSubject } from './catch-up-policy.js';
import type { CronCatchUp } from './cron.decorator.js';
import { CronSchedule } from './cron-schedule.js';

const GRACE = 10_000;
// A whole hour, so every expression below has a tick exactly here.
const T = Date.parse('2026-05-04T10:00:00Z');
const SECOND = 1_000;
const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const cron = (expression: string, catchUp: CronCatchUp): CatchUpSubject => ({ catchUp, schedule: new CronSchedule(expression, 'UTC') });
const range = (from: number, to: number, step: number) => Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);

describe('missedReason', () => {
  describe("catchUp: 'skip'", () => {
    const everyMinute = cron('* * * * *', 'skip');

    it('runs a tick up to the grace old, and not one millisecond older', () => {
      expect(missedReason(everyMinute, T, T, GRACE)).toBeUndefined();
      expect(missedReason(everyMinute, T, T + 5_000, GRACE)).toBeUndefined();
      expect(missedReason(everyMinute, T, T + GRACE, GRACE)).toBeUndefined();
      expect(missedReason(everyMinute, T, T + GRACE + 1, GRACE)).toBe("10001 ms late, past the catch-up grace of 10000 ms (catchUp: 'skip')");
    });

    it('a grace of 0 runs only a tick taken on time', () => {
      expect(missedReason(everyMinute, T, T, 0)).toBeUndefined();
      expect(missedReason(everyMinute, T, T + 1, 0)).toBe("1 ms late, past the catch-up grace of 0 ms (catchUp: 'skip')");
    });

    it('is superseded once the next tick has been due for a second, even within the grace', () => {
      const everySecond = cron('* * * * * *', 'skip');
      expect(missedReason(everySecond, T, T + SECOND + SUPERSEDE_AFTER_MS - 1, GRACE)).toBeUndefined();
      expect(missedReason(everySecond, T, T + SECOND + SUPERSEDE_AFTER_MS, GRACE)).toBe(
        `superseded by the tick of ${iso(T + SECOND)}, due before this one could start`,
      );
    });

    it('asks the schedule for the next tick only when the tick is old enough to be superseded', () => {
      const everySecond = cron('* * * * * *', 'skip');
      const nextTick = vi.spyOn(everySecond.schedule, 'nextTick');
      expect(missedReason(everySecond, T, T + SUPERSEDE_AFTER_MS, GRACE)).toBeUndefined();
      expect(nextTick).not.toHaveBeenCalled();
      expect(missedReason(everySecond, T, T + SUPERSEDE_AFTER_MS + 1, GRACE)).toBeUndefined();
      expect(nextTick).toHaveBeenCalledOnce();
    });
  });

  describe("catchUp: 'latest'", () => {
    const everyMinute = cron('* * * * *', 'latest');

    it('runs a tick however far past the grace, until the next one has been due a second', () => {
      expect(missedReason(everyMinute, T, T + 59_000, GRACE)).toBeUndefined();
      expect(missedReason(everyMinute, T, T + MINUTE + SUPERSEDE_AFTER_MS - 1, GRACE)).toBeUndefined();
      expect(missedReason(everyMinute, T, T + MINUTE + SUPERSEDE_AFTER_MS, GRACE)).toBe(
        `superseded by the tick of ${iso(T + MINUTE)}, due before this one could start`,
      );
    });

    it('runs a daily tick 23 hours late', () => {
      expect(missedReason(cron('0 10 * * *', 'latest'), T, T + 23 * 60 * MINUTE, GRACE)).toBeUndefined();
    });
  });

  describe('catchUp: { windowMs }', () => {
    it('runs a tick up to windowMs old, superseded or not, and not one millisecond older', () => {
      const everySecond = cron('* * * * * *', { windowMs: 5_000 });
      expect(missedReason(everySecond, T, T + 4_000, GRACE)).toBeUndefined();
      expect(missedReason(everySecond, T, T + 5_000, GRACE)).toBeUndefined();
      expect(missedReason(everySecond, T, T + 5_001, GRACE)).toBe('5001 ms late, past its catch-up window of 5000 ms');
    });

    it('ignores the grace: a window wider than it keeps older ticks', () => {
      expect(missedReason(cron('0 * * * *', { windowMs: 30 * MINUTE }), T, T + 20 * MINUTE, GRACE)).toBeUndefined();
    });
  });
});

describe('planCatchUp', () => {
  it('has nothing to do when no tick fell in (after, now]', () => {
    const everyMinute = cron('* * * * *', 'skip');
    expect(planCatchUp(everyMinute, T, T + 30_000, GRACE)).toEqual({ fire: [], missed: [], uncounted: false });
    expect(planCatchUp(everyMinute, T, T, GRACE)).toEqual({ fire: [], missed: [], uncounted: false });
  });

  it('counts the tick at now and not the one at after', () => {
    const everyMinute = cron('* * * * *', 'skip');
    expect(planCatchUp(everyMinute, T - 1, T, GRACE)).toEqual({ fire: [T], missed: [], uncounted: false });
    expect(planCatchUp(everyMinute, T - MINUTE, T, GRACE)).toEqual({ fire: [T], missed: [], uncounted: false });
  });

  describe("catchUp: 'skip'", () => {
    it('fires the newest tick within the grace; the older ones are MISSED as superseded', () => {
      const plan = planCatchUp(cron('* * * * *', 'skip'), T - 3 * MINUTE, T + 5_000, GRACE);
      expect(plan).toEqual({
        fire: [T],
        missed: [
          { tick: T - 2 * MINUTE, reason: `Missed: superseded by the tick of ${iso(T - MINUTE)}, due before this one could start` },
          { tick: T - MINUTE, reason: `Missed: superseded by the tick of ${iso(T)}, due before this one could start` },
        ],
        uncounted: false,
      });
    });

    it('a newest tick older than the grace is MISSED too: nothing fires', () => {
      const plan = planCatchUp(cron('* * * * *', 'skip'), T - 2 * MINUTE, T + 30_000, GRACE);
      expect(plan.fire).toEqual([]);
      expect(plan.missed).toEqual([
        { tick: T - MINUTE, reason: `Missed: superseded by the tick of ${iso(T)}, due before this one could start` },
        { tick: T, reason: "Missed: 30000 ms late, past the catch-up grace of 10000 ms (catchUp: 'skip')" },
      ]);
      expect(plan.uncounted).toBe(false);
    });

    it('a tick superseded by a newer one still within a second is MISSED with that tick named', () => {
      // Every second, 60 s frozen: T+59s is not superseded by missedReason's rule (T+60s is due for 0 ms), only by being older than the newest.
      const plan = planCatchUp(cron('* * * * * *', 'skip'), T - 1, T + MINUTE, GRACE);
      expect(plan.fire).toEqual([T + MINUTE]);
      expect(plan.missed.map((m) => m.tick)).toEqual(range(T, T + 59 * SECOND, SECOND));
      expect(plan.missed[58].reason).toBe(`Missed: superseded by the tick of ${iso(T + 59 * SECOND)}, due before this one could start`);
      expect(plan.missed[59].reason).toBe(`Missed: superseded by the tick of ${iso(T + MINUTE)}`);
    });

    it('leaves the newest tick to the upcoming one when that is less than a second away', () => {
      const every5s = cron('*/5 * * * * *', 'skip');
      expect(planCatchUp(every5s, T - 1, T + 4_000, GRACE)).toEqual({ fire: [T], missed: [], uncounted: false });
      expect(planCatchUp(every5s, T - 1, T + 4_001, GRACE)).toEqual({
        fire: [],
        missed: [{ tick: T, reason: `Missed: superseded by the tick of ${iso(T + 5_000)}, due moments later` }],
        uncounted: false,
      });
    });
  });

  describe("catchUp: 'latest'", () => {
    it('fires the newest tick however old; all the others are MISSED', () => {
      const hourly = cron('0 * * * *', 'latest');
      const plan = planCatchUp(hourly, T - 5 * 60 * MINUTE, T + 59 * MINUTE, GRACE);
      expect(plan.fire).toEqual([T]);
      expect(plan.missed.map((m) => m.tick)).toEqual(range(T - 4 * 60 * MINUTE, T - 60 * MINUTE, 60 * MINUTE));
      expect(plan.missed.every((m) => m.reason.startsWith('Missed: superseded by the tick of '))).toBe(true);
      expect(plan.uncounted).toBe(false);
    });

    it('still leaves the newest tick to an upcoming one less than a second away', () => {
      const hourly = cron('0 * * * *', 'latest');
      const now = T + 60 * MINUTE - 500;
      expect(planCatchUp(hourly, T - 1, now, GRACE)).toEqual({
        fire: [],
        missed: [{ tick: T, reason: `Missed: superseded by the tick of ${iso(T + 60 * MINUTE)}, due moments later` }],
        uncounted: false,
      });
    });
  });

  describe('catchUp: { windowMs }', () => {
    it('fires every tick within the window, oldest first; older ones are MISSED', () => {
      const plan = planCatchUp(cron('* * * * * *', { windowMs: 5_000 }), T - 1, T + 10 * SECOND, GRACE);
      expect(plan.fire).toEqual(range(T + 5 * SECOND, T + 10 * SECOND, SECOND));
      expect(plan.missed).toEqual(
        range(T, T + 4 * SECOND, SECOND).map((tick) => ({
          tick,
          reason: `Missed: ${T + 10 * SECOND - tick} ms late, past its catch-up window of 5000 ms`,
        })),
      );
      expect(plan.uncounted).toBe(false);
    });

    it('fires the newest tick even when the upcoming one is moments away', () => {
      const plan = planCatchUp(cron('*/5 * * * * *', { windowMs: 5_000 }), T - 1, T + 4_500, GRACE);
      expect(plan).toEqual({ fire: [T], missed: [], uncounted: false });
    });

    it('a window of 0 fires only a tick at now', () => {
      const plan = planCatchUp(cron('* * * * * *', { windowMs: 0 }), T - 1, T + 2 * SECOND, GRACE);
      expect(plan.fire).toEqual([T + 2 * SECOND]);
      expect(plan.missed.map((m) => m.tick)).toEqual([T, T + SECOND]);
    });
  });

  describe(`at most MAX_MISSED_ROWS (${MAX_MISSED_ROWS}) ticks`, () => {
    const everySecond = cron('* * * * * *', 'skip');
    const now = T + MAX_MISSED_ROWS * SECOND;

    it('exactly MAX_MISSED_ROWS ticks are all planned, uncounted false', () => {
      const plan = planCatchUp(everySecond, T, now, GRACE);
      expect(plan.fire).toEqual([now]);
      expect(plan.missed).toHaveLength(MAX_MISSED_ROWS - 1);
      expect(plan.missed[0].tick).toBe(T + SECOND);
      expect(plan.uncounted).toBe(false);
    });

    it('one more: the oldest is dropped and uncounted is set', () => {
      const plan = planCatchUp(everySecond, T - 1, now, GRACE);
      expect(plan.fire).toEqual([now]);
      expect(plan.missed).toHaveLength(MAX_MISSED_ROWS - 1);
      expect(plan.missed[0].tick).toBe(T + SECOND);
      expect(plan.uncounted).toBe(true);
    });

    it('a long outage keeps the newest ticks, oldest first', () => {
      const plan = planCatchUp(everySecond, T - 1, now + 5_000 * SECOND, GRACE);
      const ticks = [...plan.missed.map((m) => m.tick), ...plan.fire];
      expect(ticks).toEqual(range(now + 5_000 * SECOND - (MAX_MISSED_ROWS - 1) * SECOND, now + 5_000 * SECOND, SECOND));
      expect(plan.uncounted).toBe(true);
    });

    it('a wide window fires at most MAX_MISSED_ROWS ticks too', () => {
      const plan = planCatchUp(cron('* * * * * *', { windowMs: 10 * MAX_MISSED_ROWS * SECOND }), T - 1, now + SECOND, GRACE);
      expect(plan.fire).toHaveLength(MAX_MISSED_ROWS);
      expect(plan.fire[0]).toBe(T + 2 * SECOND);
      expect(plan.missed).toEqual([]);
      expect(plan.uncounted).toBe(true);
    });
  });
});
