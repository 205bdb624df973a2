import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';

/** A repeating timer started by {@link TasksClock.every}. */
export interface ClockTimer {
  stop(): void;
}

/**
 * The time as the cron policies read it (catch-up, lateness, the scheduler's
 * catch-up planning, a trigger's tick) and the waits of a run (a `bufferOne`
 * tick's polls, heartbeats, outcome retries). In production it is the system
 * clock and Node's timers; the testing kit (`nestjs-tasks/testing`) provides
 * a fake one under this token, so the same policy code runs on fake time.
 */
@Injectable()
export class TasksClock {
  /** Epoch milliseconds. */
  now(): number {
    return Date.now();
  }

  /** Resolves after `ms`; rejects once `signal` aborts. */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  }

  /** Calls `fn` every `ms` until stopped; the timer never keeps the process alive. */
  every(ms: number, fn: () => void): ClockTimer {
    const timer = setInterval(fn, ms);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
}
