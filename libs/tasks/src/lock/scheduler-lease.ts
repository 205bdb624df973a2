import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { OwnedKey } from './owned-key.js';

/** How long the lease lives without renewal, and how often every scheduler renews or tries to take it. */
export interface LeaseTiming {
  /** A crashed leader's ticks move to the backups after at most this long. */
  readonly ttlMs: number;
  readonly renewMs: number;
}

/**
 * Which scheduler replica enqueues ticks first. Every replica enqueues every
 * tick (the job id makes the extra adds no-ops, so a tick survives any replica
 * dying), but only the lease holder does so at the tick; the others are
 * backups a little later. Without it every replica wakes and calls Redis at
 * the same instant, and on a small host they compete with the worker that is
 * about to start the run (docs/benchmarks.md).
 *
 * The lease is only an optimisation: holding it wrongly (two leaders after a
 * Redis failover) or losing it costs timing, never a tick or a duplicate run.
 */
export class CronSchedulerLease {
  /** This replica's value of the lease key: host, pid and a random part. */
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private timer?: NodeJS.Timeout;
  private held = false;
  private stopped = false;
  private refreshing: Promise<void> = Promise.resolve();
  private readonly lease: OwnedKey;
  /** Set while Redis does not answer, so an outage is logged once, not at every refresh. */
  private failing = false;
  private busy = false;

  constructor(
    /** The process's fail-fast client (one try, a short timeout while Redis is away); the lease does not close it. */
    redis: Redis,
    key: string,
    /** Called when this replica takes the lease (so it can move its pending ticks forward) and when it loses or gives it up. */
    private readonly onChange: (held: boolean) => void,
    private readonly onError: (error: Error) => void,
    private readonly timing: LeaseTiming = { ttlMs: 10_000, renewMs: 2_000 },
  ) {
    this.lease = new OwnedKey(redis, key);
  }

  /** The Redis key whose value names the holder. */
  get leaseKey(): string {
    return this.lease.key;
  }

  /** The replica that holds the lease (its {@link id}), or null when none does. */
  holder(): Promise<string | null> {
    return this.lease.owner();
  }

  get isLeader(): boolean {
    return this.held;
  }

  /** Resolves once the first attempt has its answer (the scheduler does not wait for it). */
  startRefreshing(): Promise<void> {
    this.refreshing = this.refresh();
    this.timer = setInterval(() => {
      // One attempt at a time: while Redis is slow to answer, attempts must not pile up behind it.
      if (!this.busy) this.refreshing = this.refresh();
    }, this.timing.renewMs);
    this.timer.unref();
    return this.refreshing;
  }

  /** Gives the lease up, so another replica fires at the tick from its next refresh on. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.refreshing;
    if (this.held) {
      this.held = false;
      this.onChange(false);
      try {
        await this.lease.release(this.id);
      } catch (error) {
        // It expires by itself; the backups keep firing meanwhile.
        this.onError(error as Error);
      }
    }
  }

  private async refresh(): Promise<void> {
    if (this.stopped) return;
    this.busy = true;
    const was = this.held;
    try {
      this.held = await this.lease.acquireOrExtend(this.id, this.timing.ttlMs);
      this.failing = false;
    } catch (error) {
      // Unsure whether we still hold it: behave as a backup until Redis answers.
      this.held = false;
      if (!this.failing) this.onError(error as Error);
      this.failing = true;
    }
    this.busy = false;
    if (this.held !== was) this.onChange(this.held);
  }
}
