import { describe, expect, it } from 'vitest';
import { JobAbort } from './job-abort.js';

describe('JobAbort', () => {
  it('hands out a signal that fires when the job is aborted after the signal was read', () => {
    const abort = new JobAbort();
    const { signal } = abort;
    let fired: unknown;
    signal.addEventListener('abort', () => (fired = signal.reason), { once: true });
    abort.abort(new Error('timed out'));
    expect(signal.aborted).toBe(true);
    expect((fired as Error).message).toBe('timed out');
  });

  it('hands out an already aborted signal, with the first reason, when read after the abort', () => {
    const abort = new JobAbort();
    abort.abort('first');
    abort.abort('second');
    expect(abort.aborted).toBe(true);
    expect(abort.reason).toBe('first');
    expect(abort.signal.aborted).toBe(true);
    expect(abort.signal.reason).toBe('first');
  });

  it('is not aborted and has no reason until aborted', () => {
    const abort = new JobAbort();
    expect(abort.aborted).toBe(false);
    expect(abort.reason).toBeUndefined();
    expect(abort.signal.aborted).toBe(false);
  });
});
