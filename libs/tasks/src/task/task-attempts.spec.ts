import { describe, expect, it } from 'vitest';
import type { JobsOptions } from 'bullmq';
import { taskAttempt, taskJobRetryOptions, taskRetryDelay } from './task-attempts.js';

const defaults = { defaultAttempts: 3, defaultBackoff: { type: 'exponential', delayMs: 1_000 } } as const;
const libraryJob = (attemptsMade: number, failedReason = 'boom', attempts?: number) => ({ opts: taskJobRetryOptions(attempts), attemptsMade, failedReason });

describe('attempts of a task job, decided by the worker', () => {
  it('backs off by the task’s settings, else the worker’s defaults, and stops after the last attempt of a round', () => {
    const job = { opts: taskJobRetryOptions(undefined) };
    expect([1, 2, 3].map((made) => taskRetryDelay(job, made, {}, defaults))).toEqual([1_000, 2_000, -1]);
    const fixed = { attempts: 4, backoff: { type: 'fixed', delayMs: 50 } } as const;
    expect([1, 2, 3, 4].map((made) => taskRetryDelay(job, made, fixed, defaults))).toEqual([50, 50, 50, -1]);
    // A new round after a manual retry backs off from the start again.
    expect([4, 5, 6].map((made) => taskRetryDelay(job, made, {}, defaults))).toEqual([1_000, 2_000, -1]);
    // The attempts enqueue set win over the task's.
    expect([1, 2].map((made) => taskRetryDelay({ opts: taskJobRetryOptions(2) }, made, fixed, defaults))).toEqual([50, -1]);
  });

  it('numbers runs within rounds of maxAttempts, marking the first run after a manual retry', () => {
    const task = { attempts: 2 };
    expect(taskAttempt(libraryJob(0, ''), task, defaults)).toEqual({ attempt: 1, maxAttempts: 2, manualRetry: false });
    expect(taskAttempt(libraryJob(1), task, defaults)).toEqual({ attempt: 2, maxAttempts: 2, manualRetry: false });
    // job.retry() clears failedReason and keeps attemptsMade.
    expect(taskAttempt(libraryJob(2, ''), task, defaults)).toEqual({ attempt: 1, maxAttempts: 2, manualRetry: true });
    expect(taskAttempt(libraryJob(3), task, defaults)).toEqual({ attempt: 2, maxAttempts: 2, manualRetry: false });
    expect(taskAttempt(libraryJob(1, '', 5), task, defaults)).toEqual({ attempt: 2, maxAttempts: 5, manualRetry: true });
  });

  it('numbers a job BullMQ retries by its own options up to them, its manual retry being the last attempt', () => {
    const plain = (attemptsMade: number, failedReason: string, opts: JobsOptions) => ({ opts, attemptsMade, failedReason });
    expect(taskAttempt(plain(0, '', { attempts: 2 }), { attempts: 9 }, defaults)).toEqual({ attempt: 1, maxAttempts: 2, manualRetry: false });
    expect(taskAttempt(plain(2, '', { attempts: 2 }), { attempts: 9 }, defaults)).toEqual({ attempt: 2, maxAttempts: 2, manualRetry: true });
    expect(taskAttempt(plain(0, '', {}), {}, defaults)).toEqual({ attempt: 1, maxAttempts: 1, manualRetry: false });
  });
});
