import { describe, expect, it } from 'vitest';
import { CronSchedule } from '#nestjs-tasks-internal';

// A fixed instant: Wednesday 15 January 2025, 10:17:23.456 UTC (11:17 in Berlin, CET).
const FROM = Date.parse('2025-01-15T10:17:23.456Z');
const next = (expression: string, timeZone = 'UTC', from = FROM) =>
  new Date(new CronSchedule(expression, timeZone).nextTick(from)).toISOString();

describe('CronSchedule.nextTick', () => {
  it.each([
    ['* * * * *', 'every minute', '2025-01-15T10:18:00.000Z'],
    ['*/5 * * * *', 'every 5 minutes', '2025-01-15T10:20:00.000Z'],
    ['0 * * * *', 'every hour', '2025-01-15T11:00:00.000Z'],
    ['0 0 * * *', 'every day at midnight', '2025-01-16T00:00:00.000Z'],
    ['0 0 * * 0', 'every Sunday at midnight', '2025-01-19T00:00:00.000Z'],
  ])('the seed’s "%s" (%s) fires next at %s', (expression, _meaning, expected) => {
    expect(next(expression)).toBe(expected);
  });

  it('reads a leading sixth field as seconds', () => {
    expect(next('*/10 * * * * *')).toBe('2025-01-15T10:17:30.000Z');
    expect(next('* * * * * *')).toBe('2025-01-15T10:17:24.000Z');
    expect(next('30 */5 * * * *')).toBe('2025-01-15T10:20:30.000Z');
  });

  it('reads the expression in the job’s time zone, across daylight saving time', () => {
    // 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    expect(next('0 9 * * *', 'Europe/Berlin')).toBe('2025-01-16T08:00:00.000Z');
    expect(next('0 9 * * *', 'Europe/Berlin', Date.parse('2025-07-01T00:00:00Z'))).toBe('2025-07-01T07:00:00.000Z');
    expect(next('0 0 * * *', 'America/New_York')).toBe('2025-01-16T05:00:00.000Z');
    expect(next('0 0 * * *', 'UTC')).toBe('2025-01-16T00:00:00.000Z');
  });

  it('returns the first tick strictly after the instant, and successive ticks one period apart', () => {
    const everyFive = new CronSchedule('*/5 * * * *', 'UTC');
    const onTick = Date.parse('2025-01-15T10:20:00.000Z');
    expect(new Date(everyFive.nextTick(onTick)).toISOString()).toBe('2025-01-15T10:25:00.000Z');
    expect(new Date(everyFive.nextTick(onTick - 1)).toISOString()).toBe('2025-01-15T10:20:00.000Z');

    const weekly = new CronSchedule('0 0 * * 0', 'UTC');
    const first = weekly.nextTick(FROM);
    const second = weekly.nextTick(first);
    expect(second - first).toBe(7 * 24 * 3_600_000);
    expect(new Date(second).getUTCDay()).toBe(0);
  });

  it('finds the latest tick at or before an instant (what a starting scheduler catches up)', () => {
    expect(new Date(new CronSchedule('*/5 * * * *', 'UTC').previousTick(FROM) as number).toISOString()).toBe(
      '2025-01-15T10:15:00.000Z',
    );
    const onTick = Date.parse('2025-01-15T10:20:00.000Z');
    expect(new CronSchedule('*/5 * * * *', 'UTC').previousTick(onTick)).toBe(onTick);
  });
});
