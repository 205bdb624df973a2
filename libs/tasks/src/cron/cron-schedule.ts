import { Cron as CronPattern } from 'croner';

/**
 * Next fire times of a cron expression in a time zone. Five fields
 * (minute hour day month weekday) or six with leading seconds.
 */
export class CronSchedule {
  private readonly pattern: CronPattern;

  /** Throws with croner's reason when the expression or zone is invalid. */
  constructor(
    readonly expression: string,
    readonly timeZone: string,
  ) {
    const fields = expression.trim().split(/\s+/).length;
    if (fields !== 5 && fields !== 6) throw new Error(`${fields} fields; expected 5, or 6 with seconds`);
    this.pattern = new CronPattern(expression, { timezone: timeZone, paused: true, mode: '5-or-6-parts' });
    // croner reports some bad patterns only when asked for a date.
    if (this.pattern.nextRun(new Date(0)) === null) throw new Error('it never fires');
  }

  /** First tick strictly after `afterMs` (epoch ms), as epoch ms. */
  nextTick(afterMs: number): number {
    // croner strips milliseconds and returns the next run after the given second.
    const next = this.pattern.nextRun(new Date(afterMs));
    if (!next) throw new Error(`cron "${this.expression}" has no future tick`);
    return next.getTime();
  }

  /** Up to `count` ticks in (`afterMs`, `atMs`], newest first. */
  previousTicks(atMs: number, afterMs: number, count: number): number[] {
    const ticks: number[] = [];
    let before = atMs + 1;
    while (ticks.length < count) {
      const previous = this.pattern.previousRuns(1, new Date(before))[0]?.getTime();
      if (previous === undefined || previous <= afterMs) break;
      ticks.push(previous);
      before = previous;
    }
    return ticks;
  }

  /** Latest tick at or before `atMs`, if any. */
  previousTick(atMs: number): number | undefined {
    const previous = this.pattern.previousRuns(1, new Date(atMs + 1))[0];
    return previous?.getTime();
  }
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
