import { describe, expect, it } from 'vitest';
import { HOLD_BACK_FIRST_MS, HOLD_BACK_MAX_MS, holdBackDelayMs } from './hold-back.js';

describe('how long a job waits for a worker that has its task', () => {
  it('1 s for its first ten holds, then doubling up to 5 s', () => {
    expect([1, 2, 9, 10, 11, 12, 13, 14, 100, 1e9].map(holdBackDelayMs)).toEqual([1_000, 1_000, 1_000, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000]);
  });

  it('never below the first wait, whatever BullMQ counted (a job taken for the first time, a count that went odd)', () => {
    for (const taken of [0, -3, 0.5, Number.NaN]) expect(holdBackDelayMs(taken)).toBe(HOLD_BACK_FIRST_MS);
    expect(holdBackDelayMs(Number.POSITIVE_INFINITY)).toBe(HOLD_BACK_MAX_MS);
  });
});
