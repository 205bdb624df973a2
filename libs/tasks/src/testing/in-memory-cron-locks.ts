import { Injectable } from '@nestjs/common';
import { TasksClock } from '../options/tasks-clock.js';
import type { BufferSlot, CronLocks, HeldLock } from '../lock/cron-lock.service.js';

interface Held {
  readonly token: string;
  readonly onLost: (error: Error) => void;
}

/**
 * The cron locks and `bufferOne` waiting places in memory, provided under
 * `CronLockService`'s token. A held lock lasts until its run releases it, as
 * a live run's lock does in production (it is extended for as long as the run
 * lives); {@link loseLock} makes it expire as an unreachable Redis would. A
 * waiting place expires on the kit's clock when its tick stops refreshing it.
 */
@Injectable()
export class InMemoryCronLocks implements CronLocks {
  private readonly held = new Map<string, Held>();
  private readonly slots = new Map<string, { holder: string; expiresAt: number }>();
  private tokens = 0;

  constructor(private readonly clock: TasksClock) {}

  tryAcquire(jobName: string, _ttlMs: number, onLost: (error: Error) => void): Promise<HeldLock | undefined> {
    if (this.held.has(jobName)) return Promise.resolve(undefined);
    const token = `memory-lock-${++this.tokens}`;
    this.held.set(jobName, { token, onLost });
    return Promise.resolve({
      token,
      release: () => {
        if (this.held.get(jobName)?.token === token) this.held.delete(jobName);
        return Promise.resolve();
      },
    });
  }

  tryTakeBufferSlot(jobName: string, holder: string, ttlMs: number): Promise<BufferSlot | undefined> {
    if (this.slotHolder(jobName) !== undefined) return Promise.resolve(undefined);
    this.slots.set(jobName, { holder, expiresAt: this.clock.now() + ttlMs });
    const ours = () => this.slotHolder(jobName) === holder;
    return Promise.resolve({
      refresh: () => {
        if (ours()) this.slots.set(jobName, { holder, expiresAt: this.clock.now() + ttlMs });
        return Promise.resolve();
      },
      release: () => {
        if (ours()) this.slots.delete(jobName);
        return Promise.resolve();
      },
    });
  }

  isBufferSlotTaken(jobName: string): Promise<boolean> {
    return Promise.resolve(this.slotHolder(jobName) !== undefined);
  }

  isHeld(jobName: string, token: string): Promise<boolean> {
    return Promise.resolve(this.held.get(jobName)?.token === token);
  }

  /** Whether a run holds the job's lock now. */
  isLocked(jobName: string): boolean {
    return this.held.has(jobName);
  }

  /**
   * Makes the job's lock expire unextended, as when Redis stays unreachable
   * for a whole lock TTL: the next tick can take it, and the run that held
   * it is told (its `ctx.signal` aborts with `CronLockLostError`). False when
   * no run holds it.
   */
  loseLock(jobName: string, cause = 'the testing kit expired it (loseLock)'): boolean {
    const lock = this.held.get(jobName);
    if (!lock) return false;
    this.held.delete(jobName);
    lock.onLost(new Error(cause));
    return true;
  }

  /** Frees every lock and waiting place. */
  reset(): void {
    this.held.clear();
    this.slots.clear();
  }

  private slotHolder(jobName: string): string | undefined {
    const slot = this.slots.get(jobName);
    if (!slot) return undefined;
    if (slot.expiresAt <= this.clock.now()) {
      this.slots.delete(jobName);
      return undefined;
    }
    return slot.holder;
  }
}
