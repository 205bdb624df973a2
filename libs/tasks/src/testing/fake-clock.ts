import { Inject, Injectable, Optional } from '@nestjs/common';
// Named imports: a test's fake timers (vi.useFakeTimers(), jest.useFakeTimers()) replace the
// globals, and the kit's waits in real time must go on beside them.
import { clearTimeout, setImmediate, setTimeout } from 'node:timers';
import type { ClockTimer, TasksClock } from '../options/tasks-clock.js';

/** Optional provider of the fake clock's start: a Date or epoch ms (default: the real time when the clock is built). */
export const FAKE_CLOCK_START = Symbol('FAKE_CLOCK_START');

/**
 * How long (real milliseconds) an advance waits, at most, for work a timer just
 * started (a cron run) before it moves on and leaves that work going: a handler
 * awaiting a promise the test resolves later stays RUNNING.
 */
export const DEFAULT_SETTLE_MS = 50;

/** Event-loop turns an advance gives work already going before it fires the next timer. */
const IDLE_TURNS = 3;

/** A timer of the fake clock, cancelled by {@link FakeTimerHandle.cancel}. */
export interface FakeTimerHandle {
  cancel(): void;
}

interface FakeTimer {
  readonly at: number;
  /** Order among timers of the same instant: the order they were set in. */
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

interface TrackedWork {
  /** Not yet waited for up to the settle budget. */
  fresh: boolean;
  readonly done: Promise<void>;
}

/**
 * A clock that moves only when told to: the kit's {@link TasksClock}. Time
 * stands still between advances; `advanceTo` fires the timers set on it
 * (cron ticks, a `bufferOne` tick's polls, heartbeats, retries) in the
 * order of their instants, each at its own instant, and lets the work each
 * starts go as far as it can before the next. It replaces no global timer
 * and `Date.now()` is left alone, so Jest's or Vitest's fake timers, or none,
 * can be used beside it.
 */
@Injectable()
export class FakeClock implements TasksClock {
  private current: number;
  private readonly timers = new TimerHeap();
  private seq = 0;
  private readonly work = new Set<TrackedWork>();
  /** Tracked work not yet waited for up to the settle budget. */
  private fresh = 0;
  private drained?: { promise: Promise<void>; resolve: () => void };
  private turn?: Promise<void>;
  private advancing = false;
  /** See {@link DEFAULT_SETTLE_MS}. */
  settleMs = DEFAULT_SETTLE_MS;

  constructor(@Optional() @Inject(FAKE_CLOCK_START) start?: Date | number) {
    this.current = start === undefined ? Date.now() : toEpoch(start, 'FAKE_CLOCK_START');
  }

  now(): number {
    return this.current;
  }

  /** Resolves when the clock reaches now + `ms`; rejects with the signal's reason once `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        timer.cancel();
        reject(signal?.reason as Error);
      };
      const timer = this.at(this.current + Math.max(ms, 0), () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  every(ms: number, fn: () => void): ClockTimer {
    const period = Math.max(ms, 1);
    let handle: FakeTimerHandle;
    const arm = (at: number) => {
      handle = this.at(at, () => {
        arm(at + period);
        fn();
      });
    };
    arm(this.current + period);
    return { stop: () => handle.cancel() };
  }

  /** Calls `fn` when an advance reaches `at` (epoch ms); at once on the next advance if `at` is not after now. */
  at(at: number, fn: () => void): FakeTimerHandle {
    const timer: FakeTimer = { at, seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /**
   * Work a timer started (a run): an advance waits for it, up to
   * {@link settleMs} of real time, before it fires the next timer.
   */
  track(work: Promise<unknown>): void {
    const entry: TrackedWork = {
      fresh: true,
      done: work.then(
        () => this.finish(entry),
        () => this.finish(entry),
      ),
    };
    this.work.add(entry);
    this.fresh++;
  }

  /** How much tracked work is still going. */
  get busy(): number {
    return this.work.size;
  }

  /** Moves the clock forward by `ms`, firing the timers due in (now, now + ms], each at its instant. */
  advanceBy(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advanceBy(${ms}): the fake clock moves forward only, by a finite number of ms`);
    return this.advanceTo(this.current + ms);
  }

  /** Moves the clock forward to `target`, firing the timers due up to it (inclusive), each at its instant. */
  async advanceTo(target: Date | number): Promise<void> {
    const to = toEpoch(target, 'advanceTo');
    if (to < this.current) {
      throw new RangeError(`advanceTo(${new Date(to).toISOString()}): the fake clock is at ${new Date(this.current).toISOString()} and moves forward only`);
    }
    if (this.advancing) throw new Error('The fake clock is already advancing: await the previous advanceBy/advanceTo first');
    this.advancing = true;
    try {
      // Work the test let go (a handler it released) finishes what it can at the current time first.
      await this.settle();
      for (let next = this.timers.peek(); next && next.at <= to; next = this.timers.peek()) {
        this.timers.pop();
        if (next.cancelled) continue;
        this.current = Math.max(this.current, next.at);
        next.fn();
        await this.settle();
      }
      this.current = to;
      await this.settle();
    } finally {
      this.advancing = false;
    }
  }

  /**
   * Lets the tracked work go as far as it can without the clock moving: a
   * few event-loop turns for all of it, and up to {@link settleMs} of real
   * time for work not waited for before.
   */
  async settle(): Promise<void> {
    await this.idleTurns();
    if (this.fresh === 0) return;
    const fresh = [...this.work].filter((entry) => entry.fresh);
    for (const entry of fresh) entry.fresh = false;
    this.fresh = 0;
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.settleMs);
      timer.unref();
    });
    await Promise.race([Promise.all(fresh.map((entry) => entry.done)), budget]);
    clearTimeout(timer);
    await this.idleTurns();
  }

  /** Forgets every timer (nothing fires any more) and sets the time, if given. */
  reset(now?: Date | number): void {
    this.timers.clear();
    if (now !== undefined) this.current = toEpoch(now, 'reset');
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.live();
  }

  private async idleTurns(): Promise<void> {
    for (let turn = 0; turn < IDLE_TURNS && this.work.size > 0; turn++) {
      await Promise.race([this.whenDrained(), this.nextTurn()]);
    }
  }

  private finish(entry: TrackedWork): void {
    if (entry.fresh) this.fresh--;
    this.work.delete(entry);
    if (this.work.size === 0 && this.drained) {
      this.drained.resolve();
      this.drained = undefined;
    }
  }

  private whenDrained(): Promise<void> {
    if (!this.drained) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.drained = { promise, resolve };
    }
    return this.drained.promise;
  }

  // One setImmediate serves every waiter of the same turn.
  private nextTurn(): Promise<void> {
    this.turn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.turn = undefined;
        resolve();
      }),
    );
    return this.turn;
  }
}

function toEpoch(value: Date | number, what: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new RangeError(`${what}: ${String(value)} is not a valid Date or epoch ms`);
  return ms;
}

/** Timers by (instant, order set): a binary min-heap, so a year of ticks stays cheap. */
class TimerHeap {
  private readonly items: FakeTimer[] = [];

  push(timer: FakeTimer): void {
    const items = this.items;
    items.push(timer);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  peek(): FakeTimer | undefined {
    return this.items[0];
  }

  pop(): FakeTimer | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && before(items[left], items[smallest])) smallest = left;
        if (right < items.length && before(items[right], items[smallest])) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }

  clear(): void {
    for (const timer of this.items) timer.cancelled = true;
    this.items.length = 0;
  }

  live(): number {
    return this.items.filter((timer) => !timer.cancelled).length;
  }
}

function before(a: FakeTimer, b: FakeTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
