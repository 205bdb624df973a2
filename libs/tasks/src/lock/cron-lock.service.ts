import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Redlock, ExecutionError, ResourceLockedError, type Lock } from '@sesamecare-oss/redlock';
import { TASKS_OPTIONS } from '../module/tasks.constants.js';
import type { ResolvedTasksOptions } from '../module/tasks-options.interface.js';
import { RedisConnections } from '../redis/redis-connections.js';

/** A lock this process holds; it keeps itself alive until released. */
export interface HeldLock {
  readonly token: string;
  release(): Promise<void>;
}

/**
 * Redlock locks for cron jobs, one per job name. A held lock is extended
 * every third of its TTL for as long as the run lives, so the TTL only bounds
 * how long a crashed holder blocks the job, never how long a run may take.
 */
@Injectable()
export class CronLockService implements OnApplicationShutdown {
  private readonly logger = new Logger('CronLock');
  private client?: Redis;
  private redlock?: Redlock;

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
  ) {}

  /** Redis key of a job's lock. */
  keyOf(jobName: string): string {
    return `${this.options.prefix}:cron-lock:${jobName}`;
  }

  /**
   * Takes the job's lock, or returns undefined at once when another run holds
   * it. `onLost` is called if an extension fails (Redis gone for a whole TTL).
   * Throws when Redis cannot be asked at all.
   */
  async tryAcquire(jobName: string, ttlMs: number, onLost: (error: Error) => void): Promise<HeldLock | undefined> {
    let lock: Lock;
    try {
      lock = await this.locks().acquire([this.keyOf(jobName)], ttlMs);
    } catch (error) {
      if (await isHeldElsewhere(error)) return undefined;
      throw error;
    }
    return this.keepAlive(lock, ttlMs, onLost);
  }

  /** Whether the lock with this token is still the job's current lock. */
  async isHeld(jobName: string, token: string): Promise<boolean> {
    return (await this.redis().get(this.keyOf(jobName))) === token;
  }

  async onApplicationShutdown(): Promise<void> {
    this.client?.disconnect();
  }

  private keepAlive(initial: Lock, ttlMs: number, onLost: (error: Error) => void): HeldLock {
    let lock = initial;
    let released = false;
    let extending: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      extending = lock.extend(ttlMs).then(
        (extended) => {
          lock = extended;
        },
        (error: unknown) => {
          if (released) return;
          clearInterval(timer);
          this.logger.error(`Lost the lock of ${initial.resources[0]}: ${this.connections.describe(error)}`);
          onLost(error as Error);
        },
      );
    }, Math.max(Math.floor(ttlMs / 3), 100));
    timer.unref();
    return {
      token: initial.value,
      release: async () => {
        released = true;
        clearInterval(timer);
        await extending;
        try {
          await lock.release();
        } catch (error) {
          // It expires by itself; the next run only waits out the TTL.
          this.logger.warn(`Could not release ${initial.resources[0]}: ${this.connections.describe(error)}`);
        }
      },
    };
  }

  private redis(): Redis {
    this.client ??= this.connections.create('fail-fast', 'cron-lock');
    return this.client;
  }

  private locks(): Redlock {
    // No retries: a held lock means an earlier run is going, and this tick is SKIPPED.
    if (!this.redlock) {
      this.redlock = new Redlock([this.redis()], { retryCount: 0, automaticExtensionThreshold: 0 });
      // Redlock also emits every failed vote, a held lock included; they reach the caller as rejections.
      this.redlock.on('error', () => undefined);
    }
    return this.redlock;
  }
}

/** Redlock reports "held by someone else" and "Redis failed" as the same error; tell them apart. */
async function isHeldElsewhere(error: unknown): Promise<boolean> {
  if (!(error instanceof ExecutionError)) return false;
  for (const attempt of error.attempts) {
    const stats = await attempt;
    for (const reason of stats.votesAgainst.values()) {
      if (reason instanceof ResourceLockedError) return true;
    }
  }
  return false;
}
