import { describe, expect, it } from 'vitest';
import { Cron as CronPattern } from 'croner';
import { CronSchedule } from './cron-schedule.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

/** Every tick in (`fromMs`, `toMs`], oldest first, walked with nextTick. */
function ticksBetween(schedule: CronSchedule, fromMs: number, toMs: number): number[] {
  const ticks: number[] = [];
  for (let tick = schedule.nextTick(fromMs); tick <= toMs; tick = schedule.nextTick(tick)) ticks.push(tick);
  return ticks;
}

/**
 * The walk back (previousTicks, previousTick) must give the very ticks the
 * walk forward gives; a disagreement at a transition would make catch-up
 * replay or drop a tick the timer did (not) fire.
 */
function expectBackwardAgrees(schedule: CronSchedule, fromMs: number, toMs: number, forward: readonly number[]): void {
  expect(schedule.previousTicks(toMs, fromMs, forward.length + 10).map(iso)).toEqual([...forward].reverse().map(iso));
  forward.forEach((tick, index) => {
    expect(iso(schedule.previousTick(tick) ?? NaN)).toBe(iso(tick));
    expect(iso(schedule.previousTick(tick + 999) ?? NaN)).toBe(iso(tick));
    if (index > 0) {
      expect(iso(schedule.previousTick(tick - 1) ?? NaN)).toBe(iso(forward[index - 1]));
      expect(iso(schedule.nextTick(forward[index - 1]))).toBe(iso(tick));
    }
    expect(iso(schedule.nextTick(tick - 1))).toBe(iso(tick));
  });
}

describe('CronSchedule: daily wall-clock times across DST', () => {
  const cases: {
    title: string;
    expression: string;
    timeZone: string;
    from: string;
    to: string;
    expected: string[];
  }[] = [
    {
      title: 'Europe/Berlin spring 2026-03-29: 02:30 does not exist and fires once at 03:00 CEST',
      expression: '30 2 * * *',
      timeZone: 'Europe/Berlin',
      from: '2026-03-27T12:00:00Z',
      to: '2026-03-30T12:00:00Z',
      expected: ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'],
    },
    {
      title: 'Europe/Berlin spring 2026-03-29: 02:00 does not exist and fires once at 03:00 CEST',
      expression: '0 2 * * *',
      timeZone: 'Europe/Berlin',
      from: '2026-03-27T12:00:00Z',
      to: '2026-03-30T12:00:00Z',
      expected: ['2026-03-28T01:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z'],
    },
    {
      title: 'Europe/Berlin autumn 2026-10-25: 02:30 occurs twice and fires once, at the first (CEST)',
      expression: '30 2 * * *',
      timeZone: 'Europe/Berlin',
      from: '2026-10-23T12:00:00Z',
      to: '2026-10-26T12:00:00Z',
      expected: ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'],
    },
    {
      title: 'America/New_York spring 2026-03-08: 02:30 does not exist and fires once at 03:00 EDT',
      expression: '30 2 * * *',
      timeZone: 'America/New_York',
      from: '2026-03-06T12:00:00Z',
      to: '2026-03-09T12:00:00Z',
      expected: ['2026-03-07T07:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z'],
    },
    {
      title: 'America/New_York autumn 2026-11-01: 01:30 occurs twice and fires once, at the first (EDT)',
      expression: '30 1 * * *',
      timeZone: 'America/New_York',
      from: '2026-10-30T12:00:00Z',
      to: '2026-11-02T12:00:00Z',
      expected: ['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'],
    },
  ];

  for (const c of cases) {
    it(c.title, () => {
      const schedule = new CronSchedule(c.expression, c.timeZone);
      const from = at(c.from);
      const to = at(c.to);
      const forward = ticksBetween(schedule, from, to);
      expect(forward.map(iso)).toEqual(c.expected);
      expectBackwardAgrees(schedule, from, to, forward);
    });
  }

  it('Europe/Berlin autumn: asking from inside the repeated hour does not fire 02:30 a second time', () => {
    const schedule = new CronSchedule('30 2 * * *', 'Europe/Berlin');
    // 02:00 CET, the second pass through 02:xx local, before the second 02:30.
    expect(iso(schedule.nextTick(at('2026-10-25T01:00:00Z')))).toBe('2026-10-26T01:30:00.000Z');
    expect(iso(schedule.previousTick(at('2026-10-25T01:45:00Z')) ?? NaN)).toBe('2026-10-25T00:30:00.000Z');
  });

  it('America/New_York autumn: asking from inside the repeated hour does not fire 01:30 a second time', () => {
    const schedule = new CronSchedule('30 1 * * *', 'America/New_York');
    // 01:00 EST, the second pass through 01:xx local.
    expect(iso(schedule.nextTick(at('2026-11-01T06:00:00Z')))).toBe('2026-11-02T06:30:00.000Z');
    expect(iso(schedule.previousTick(at('2026-11-01T06:45:00Z')) ?? NaN)).toBe('2026-11-01T05:30:00.000Z');
  });
});

describe('CronSchedule: sub-daily expressions fire once per real interval through DST', () => {
  const transitions: { title: string; timeZone: string; from: string }[] = [
    { title: 'Europe/Berlin spring 2026-03-29 (01:00Z)', timeZone: 'Europe/Berlin', from: '2026-03-28T22:00:00Z' },
    { title: 'Europe/Berlin autumn 2026-10-25 (01:00Z)', timeZone: 'Europe/Berlin', from: '2026-10-24T22:00:00Z' },
    { title: 'America/New_York spring 2026-03-08 (07:00Z)', timeZone: 'America/New_York', from: '2026-03-08T04:00:00Z' },
    { title: 'America/New_York autumn 2026-11-01 (06:00Z)', timeZone: 'America/New_York', from: '2026-11-01T03:00:00Z' },
  ];
  const expressions: { expression: string; interval: number; count: number }[] = [
    { expression: '0 * * * *', interval: HOUR, count: 6 },
    { expression: '*/30 * * * *', interval: 30 * MINUTE, count: 12 },
    { expression: '* * * * *', interval: MINUTE, count: 360 },
  ];

  for (const t of transitions) {
    for (const e of expressions) {
      it(`${t.title}: "${e.expression}" fires ${e.count} times in 6 real hours, ${e.interval / MINUTE} min apart`, () => {
        const schedule = new CronSchedule(e.expression, t.timeZone);
        const from = at(t.from);
        const to = from + 6 * HOUR;
        const forward = ticksBetween(schedule, from, to);
        expect(forward).toHaveLength(e.count);
        expect(forward[0]).toBe(from + e.interval);
        expect(forward[forward.length - 1]).toBe(to);
        const gaps = new Set(forward.slice(1).map((tick, index) => tick - forward[index]));
        expect([...gaps]).toEqual([e.interval]);
        expectBackwardAgrees(schedule, from, to, forward);
      });
    }
  }

  it('Europe/Berlin autumn: "0 * * * *" fires at both real hours that read 02:00 local', () => {
    const schedule = new CronSchedule('0 * * * *', 'Europe/Berlin');
    expect(iso(schedule.nextTick(at('2026-10-24T23:59:59Z')))).toBe('2026-10-25T00:00:00.000Z');
    expect(iso(schedule.nextTick(at('2026-10-25T00:00:00Z')))).toBe('2026-10-25T01:00:00.000Z');
    expect(iso(schedule.nextTick(at('2026-10-25T01:00:00Z')))).toBe('2026-10-25T02:00:00.000Z');
  });

  it('six fields with seconds: every 15 s through Berlin spring gives 4 ticks a real minute', () => {
    const schedule = new CronSchedule('*/15 * * * * *', 'Europe/Berlin');
    const from = at('2026-03-29T00:58:00Z');
    const forward = ticksBetween(schedule, from, from + 4 * MINUTE);
    expect(forward).toHaveLength(16);
    expect(new Set(forward.slice(1).map((tick, index) => tick - forward[index]))).toEqual(new Set([15_000]));
  });
});

describe('CronSchedule: tick arithmetic', () => {
  it('nextTick is strictly after, ignoring the milliseconds of the instant asked from', () => {
    const schedule = new CronSchedule('* * * * * *', 'UTC');
    const second = at('2026-01-01T00:00:00Z');
    expect(schedule.nextTick(second)).toBe(second + 1_000);
    expect(schedule.nextTick(second + 1)).toBe(second + 1_000);
    expect(schedule.nextTick(second + 999)).toBe(second + 1_000);
    expect(schedule.nextTick(second - 1)).toBe(second);
  });

  it('previousTicks is bounded by after (exclusive), at (inclusive) and count, newest first', () => {
    const schedule = new CronSchedule('* * * * * *', 'UTC');
    const second = at('2026-01-01T00:00:00Z');
    expect(schedule.previousTicks(second + 5_000, second, 100)).toEqual([5, 4, 3, 2, 1].map((s) => second + s * 1_000));
    expect(schedule.previousTicks(second + 5_500, second + 2_000, 100)).toEqual([5, 4, 3].map((s) => second + s * 1_000));
    expect(schedule.previousTicks(second + 5_000, second, 2)).toEqual([second + 5_000, second + 4_000]);
    expect(schedule.previousTicks(second + 5_000, second + 5_000, 100)).toEqual([]);
  });

  it('rejects a wrong number of fields and a pattern that never fires', () => {
    expect(() => new CronSchedule('* * * *', 'UTC')).toThrow('4 fields; expected 5, or 6 with seconds');
    expect(() => new CronSchedule('0 0 30 2 *', 'UTC')).toThrow('it never fires');
  });
});

describe('CronSchedule: ticks computed at a fixed offset away from DST changes equal croner zone-aware ones', () => {
  // croner's own zone-aware answer, the reference the fast path must match.
  const reference = (expression: string, timeZone: string) => {
    const pattern = new CronPattern(expression, { timezone: timeZone, paused: true, mode: '5-or-6-parts' });
    return (after: number) => pattern.nextRun(new Date(after))?.getTime();
  };
  const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'Australia/Lord_Howe', 'America/Santiago', 'Pacific/Chatham', 'Asia/Kathmandu', 'Asia/Tokyo', 'Etc/GMT+5'];
  const expressions = ['*/5 * * * *', '30 2 * * *', '0 * * * *', '*/30 * * * *', '0 */6 * * *', '30 */5 * * * *', '15 1 * * 0', '0 0 1 * *', '45 23 L * *', '0 3 * * 1-5', '*/20 * * * * *'];
  const from = at('2026-01-01T00:00:00Z');
  const to = at('2027-01-10T00:00:00Z');

  /** Every instant within a day and a half of a change of the zone's offset in [from, to], every 37 min 13 s. */
  function nearChanges(timeZone: string): number[] {
    const format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    const offset = (ms: number) => format.formatToParts(ms).find((part) => part.type === 'timeZoneName')?.value;
    const instants: number[] = [];
    for (let day = from; day < to; day += 24 * HOUR) {
      if (offset(day) === offset(day + 24 * HOUR)) continue;
      for (let t = day - 36 * HOUR; t < day + 60 * HOUR; t += 37 * MINUTE + 13_000) instants.push(t);
    }
    return instants;
  }

  for (const timeZone of zones) {
    it(`${timeZone}: from random instants over a year, and from instants near each offset change`, () => {
      // A fixed sequence, so that a failure replays.
      let seed = 42;
      const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
      const instants = [...Array.from({ length: 100 }, () => Math.floor(from + random() * (to - from))), ...nearChanges(timeZone)];
      for (const expression of expressions) {
        const schedule = new CronSchedule(expression, timeZone);
        const expected = reference(expression, timeZone);
        for (const instant of instants) {
          const tick = schedule.nextTick(instant);
          if (tick !== expected(instant)) expect(`${expression} after ${iso(instant)}: ${iso(tick)}`).toBe(`${expression} after ${iso(instant)}: ${iso(expected(instant) ?? NaN)}`);
        }
      }
    });
  }

  it('Europe/Berlin: a year of "*/5 * * * *" walked tick by tick equals croner zone-aware walk through both changes', () => {
    const schedule = new CronSchedule('*/5 * * * *', 'Europe/Berlin');
    const expected = reference('*/5 * * * *', 'Europe/Berlin');
    // The reference is slow: its walk is checked on the days around each change and a sample of the others.
    let tick = schedule.nextTick(from);
    let count = 0;
    for (; tick <= at('2027-01-01T00:00:00Z'); tick = schedule.nextTick(tick)) {
      count++;
      const day = new Date(tick).toISOString().slice(0, 10);
      if (day === '2026-03-29' || day === '2026-10-25' || count % 97 === 0) expect(iso(schedule.nextTick(tick))).toBe(iso(expected(tick) ?? NaN));
    }
    // 365 days of 288 ticks, one hour less in March and one more in October.
    expect(count).toBe(365 * 288);
  });
});
