import { Cron as CronPattern } from 'croner';

const HOUR = 3_600_000;
/** Within this much of a change of its zone's UTC offset, a tick is computed by croner's zone-aware path (the DST rules). */
const NEAR_CHANGE_MS = 24 * HOUR;
/** How far ahead of an instant its zone's next offset change is looked for at a time (further when a tick needs it), and in what steps. */
const SPAN_AHEAD_MS = 3 * 24 * HOUR;
const SPAN_STEP_MS = 6 * HOUR;

/** A stretch of time over which a zone keeps one UTC offset: [start, end). */
interface OffsetSpan {
  readonly start: number;
  readonly end: number;
  /** Minutes ahead of UTC. */
  readonly offset: number;
  /** The offset was not seen to change by `end`: only that far was looked. */
  readonly capped: boolean;
}

const UTC_SPAN: OffsetSpan = { start: -Infinity, end: Infinity, offset: 0, capped: false };

const DAY = 24 * HOUR;
/** A day's ticks are listed once when there are at most this many (every minute); finer crons ask croner each time. */
const MAX_TICKS_A_DAY = 1_440;

/** The same expression at one fixed UTC offset: croner's pattern, and the ticks of any day when they repeat daily. */
interface FixedOffset {
  readonly pattern: CronPattern;
  /** Ms after the day's (wall-clock) midnight, ascending; undefined when the ticks do not repeat daily or are too many. */
  readonly day: readonly number[] | undefined;
}

/**
 * Next fire times of a cron expression in a time zone. Five fields
 * (minute hour day month weekday) or six with leading seconds.
 */
export class CronSchedule {
  private readonly pattern: CronPattern;
  /** The same expression at a fixed UTC offset, by offset in minutes. */
  private readonly fixed = new Map<number, FixedOffset>();
  /** Whether its ticks are the same every day: day of month, month and weekday are all `*`. */
  private readonly daily: boolean;
  private readonly offsets: ZoneOffsets | undefined;
  // The last answer of nextTick: the scheduler and the catch-up check ask it of the same tick.
  private lastAfter = Number.NaN;
  private lastNext = Number.NaN;

  /** Throws with croner's reason when the expression or zone is invalid. */
  constructor(
    readonly expression: string,
    readonly timeZone: string,
  ) {
    const parts = expression.trim().split(/\s+/);
    const fields = parts.length;
    if (fields !== 5 && fields !== 6) throw new Error(`${fields} fields; expected 5, or 6 with seconds`);
    this.daily = parts.slice(-3).every((part) => part === '*');
    this.pattern = new CronPattern(expression, { timezone: timeZone, paused: true, mode: '5-or-6-parts' });
    // croner reports some bad patterns only when asked for a date.
    if (this.pattern.nextRun(new Date(0)) === null) throw new Error('it never fires');
    this.offsets = timeZone === 'UTC' ? undefined : new ZoneOffsets(timeZone);
  }

  /** First tick strictly after `afterMs` (epoch ms), as epoch ms. */
  nextTick(afterMs: number): number {
    if (afterMs === this.lastAfter) return this.lastNext;
    const next = this.fastNextTick(afterMs) ?? this.zonedNextTick(afterMs);
    this.lastAfter = afterMs;
    this.lastNext = next;
    return next;
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

  private zonedNextTick(afterMs: number): number {
    // croner strips milliseconds and returns the next run after the given second.
    const next = this.pattern.nextRun(new Date(afterMs));
    if (!next) throw new Error(`cron "${this.expression}" has no future tick`);
    return next.getTime();
  }

  /**
   * croner's zone-aware path reads the zone's offset many times per tick
   * (about 70 µs). Away from a change of the zone's offset the wall clock is
   * UTC shifted by that offset, and the same expression at that fixed offset
   * gives the same tick ten times faster; an expression whose ticks repeat
   * every day is read off a list of one day's ticks. Near a change (DST), or
   * when the tick would land near one, undefined: the zone-aware path decides.
   */
  private fastNextTick(afterMs: number): number | undefined {
    let span = this.offsets ? this.offsets.spanAt(afterMs) : UTC_SPAN;
    if (span === undefined || afterMs < span.start + NEAR_CHANGE_MS) return undefined;
    const fixed = this.fixedAt(span.offset);
    const next = fixed.day ? nextOfDay(fixed.day, span.offset, afterMs) : fixed.pattern.nextRun(new Date(afterMs))?.getTime();
    if (next === undefined) return undefined;
    while (this.offsets && span.capped && next >= span.end - NEAR_CHANGE_MS) span = this.offsets.extend(span);
    return next < span.end - NEAR_CHANGE_MS ? next : undefined;
  }

  private fixedAt(offset: number): FixedOffset {
    let fixed = this.fixed.get(offset);
    if (!fixed) {
      const pattern = new CronPattern(this.expression, { utcOffset: offset, paused: true, mode: '5-or-6-parts' });
      fixed = { pattern, day: this.daily ? ticksOfADay(pattern, offset) : undefined };
      this.fixed.set(offset, fixed);
    }
    return fixed;
  }
}

/** The ticks of one wall-clock day at a fixed offset, as ms after its midnight; undefined past {@link MAX_TICKS_A_DAY}. */
function ticksOfADay(pattern: CronPattern, offset: number): number[] | undefined {
  const midnight = -offset * 60_000;
  const ticks: number[] = [];
  // From just before midnight: a tick at midnight itself is the day's first.
  for (let tick = pattern.nextRun(new Date(midnight - 1))?.getTime(); tick !== undefined && tick < midnight + DAY; tick = pattern.nextRun(new Date(tick))?.getTime()) {
    if (ticks.length === MAX_TICKS_A_DAY) return undefined;
    ticks.push(tick - midnight);
  }
  return ticks.length > 0 ? ticks : undefined;
}

/** The first tick strictly after `afterMs`, from the ticks every day has at a fixed offset. */
function nextOfDay(day: readonly number[], offset: number, afterMs: number): number {
  const offsetMs = offset * 60_000;
  const midnight = Math.floor((afterMs + offsetMs) / DAY) * DAY - offsetMs;
  const into = afterMs - midnight;
  let low = 0;
  let high = day.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (day[middle] <= into) low = middle + 1;
    else high = middle;
  }
  return low < day.length ? midnight + day[low] : midnight + DAY + day[0];
}

/** A zone's UTC offset at any instant, and the stretch around an instant over which it holds. */
class ZoneOffsets {
  private readonly format: Intl.DateTimeFormat;
  private span?: OffsetSpan;

  constructor(timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  }

  /**
   * The span of one offset around `ms`, as far as it is known: its start at
   * most {@link NEAR_CHANGE_MS} back, its end at most {@link SPAN_AHEAD_MS}
   * ahead (unless the offset changes sooner). Undefined when the offset is not
   * a whole number of minutes (some historical dates).
   */
  spanAt(ms: number): OffsetSpan | undefined {
    if (this.span && ms >= this.span.start && ms < this.span.end) return this.span;
    const offset = this.offsetAt(ms);
    if (offset === undefined) return undefined;
    let start = ms - NEAR_CHANGE_MS - SPAN_STEP_MS;
    for (let at = ms; at > ms - NEAR_CHANGE_MS - SPAN_STEP_MS; at -= SPAN_STEP_MS) {
      const earlier = at - SPAN_STEP_MS;
      if (this.offsetAt(earlier) !== offset) {
        start = this.change(earlier, at, offset);
        break;
      }
    }
    this.span = { start, offset, ...this.ahead(ms, offset) };
    return this.span;
  }

  /** The span, looked at {@link SPAN_AHEAD_MS} further ahead: its offset may hold longer. */
  extend(span: OffsetSpan): OffsetSpan {
    this.span = { ...span, ...this.ahead(span.end, span.offset) };
    return this.span;
  }

  /** Where the offset, which `from` has, changes next, looking {@link SPAN_AHEAD_MS} ahead. */
  private ahead(from: number, offset: number): { end: number; capped: boolean } {
    for (let at = from; at < from + SPAN_AHEAD_MS; at += SPAN_STEP_MS) {
      const later = at + SPAN_STEP_MS;
      if (this.offsetAt(later) !== offset) return { end: this.change(at, later, offset), capped: false };
    }
    return { end: from + SPAN_AHEAD_MS, capped: true };
  }

  /** Minutes ahead of UTC at `ms`; undefined when not whole minutes. */
  private offsetAt(ms: number): number | undefined {
    const name = this.format.formatToParts(ms).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
    const match = /^GMT(?:([+-])(\d{2}):(\d{2})(:\d{2})?)?$/.exec(name);
    if (!match || match[4]) return undefined;
    if (!match[1]) return 0;
    const minutes = Number(match[2]) * 60 + Number(match[3]);
    return match[1] === '-' ? -minutes : minutes;
  }

  /**
   * The first instant in (`from`, `to`] whose offset is not `offset` when
   * `from` has it, or the first one that has it when `from` does not: the
   * change between the two, to the millisecond.
   */
  private change(from: number, to: number, offset: number): number {
    const fromHas = this.offsetAt(from) === offset;
    let low = from;
    let high = to;
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if ((this.offsetAt(middle) === offset) === fromHas) low = middle;
      else high = middle;
    }
    return high;
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
