import { Inject, Injectable, Logger } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisClients } from '../redis/redis-clients.js';
import { TasksEvents } from '../events/tasks-events.js';
import { OwnedKey, ownerToken } from './owned-key.js';

/** A lock this process holds; it keeps itself alive until released. */
export interface HeldLock {
  readonly token: string;
  release(): Promise<void>;
}

/** The one waiting place of a `bufferOne` cron, held by the tick waiting in it. */
export interface BufferSlot {
  /** Keeps the slot while the tick still waits. */
  refresh(): Promise<void>;
  release(): Promise<void>;
}

/**
 * What a cron run needs of its job's lock and of the `bufferOne` waiting
 * place, and the lost-run sweep of a lock: Redis in production
 * ({@link CronLockService}), memory in the testing kit.
 */
export interface CronLocks {
  tryAcquire(jobName: string, ttlMs: number, onLost: (error: Error) => void): Promise<HeldLock | undefined>;
  tryTakeBufferSlot(jobName: string, holder: string, ttlMs: number): Promise<BufferSlot | undefined>;
  isBufferSlotTaken(jobName: string): Promise<boolean>;
  isHeld(jobName: string, token: string): Promise<boolean>;
}

/**
 * How much earlier than its TTL says a lock is counted as gone: Redis expires
 * keys to the millisecond, and the two clocks run at slightly different rates.
 */
function clockDriftMs(ttlMs: number): number {
  return Math.round(ttlMs * 0.01) + 2;
}

/**
 * Locks for cron jobs, one per job name, each an {@link OwnedKey}. A held
 * lock is extended every third of its TTL for as long as the run lives, so
 * the TTL only bounds how long a crashed holder blocks the job, never how long
 * a run may take. A failed extension is retried until the lock has really
 * expired; only then is the run told it lost the lock. The lock keeps two runs
 * apart in the common case; the database's one-RUNNING-row rule is the guard
 * when Redis loses the key (restart, failover, eviction).
 *
 * The library talks to one Redis, so a lock on it is a single key: what
 * Redlock adds (a majority of independent Redis nodes) has nothing to vote
 * with here, and the key alone is as safe as that Redis.
 */
@Injectable()
export class CronLockService implements CronLocks {
  private readonly logger = new Logger(CronLockService.name);

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clients: RedisClients,
    private readonly events: TasksEvents,
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
    const lock = new OwnedKey(this.clients.failFast, this.keyOf(jobName));
    const token = ownerToken();
    const sentAt = Date.now();
    if (!(await lock.acquire(token, ttlMs))) return undefined;
    return this.keepAlive(jobName, lock, token, sentAt + ttlMs - clockDriftMs(ttlMs), ttlMs, onLost);
  }

  /**
   * Takes the job's one waiting place for a `bufferOne` tick, or undefined
   * when another tick already waits. It expires `ttlMs` after the last
   * refresh, so a waiting worker that dies frees it.
   */
  async tryTakeBufferSlot(jobName: string, holder: string, ttlMs: number): Promise<BufferSlot | undefined> {
    const slot = this.bufferOf(jobName);
    if (!(await slot.acquire(holder, ttlMs))) return undefined;
    return {
      refresh: async () => {
        await slot.extend(holder, ttlMs);
      },
      release: async () => {
        try {
          await slot.release(holder);
        } catch (error) {
          this.logger.warn(`Could not free the waiting place of ${jobName}: ${this.clients.describe(error)}`);
        }
      },
    };
  }

  /** Whether a `bufferOne` tick waits in the job's waiting place. */
  async isBufferSlotTaken(jobName: string): Promise<boolean> {
    return (await this.bufferOf(jobName).owner()) !== null;
  }

  private bufferOf(jobName: string): OwnedKey {
    return new OwnedKey(this.clients.failFast, `${this.options.prefix}:cron-buffer:${jobName}`);
  }

  /** Whether the lock with this token is still the job's current lock. */
  async isHeld(jobName: string, token: string): Promise<boolean> {
    return (await new OwnedKey(this.clients.failFast, this.keyOf(jobName)).owner()) === token;
  }

  /**
   * Extends every third of the TTL. A failed extension is retried every
   * tenth of the TTL while the lock is still valid (its expiry counted from
   * the moment the last successful request was sent); when it expires
   * unextended, `onLost` is told, once.
   */
  private keepAlive(jobName: string, lock: OwnedKey, token: string, validFrom: number, ttlMs: number, onLost: (error: Error) => void): HeldLock {
    let released = false;
    let validUntil = validFrom;
    let firstFailure: number | undefined;
    let extending: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const every = Math.max(Math.floor(ttlMs / 3), 100);
    const retryEvery = Math.max(Math.floor(ttlMs / 10), 50);
    const schedule = (delay: number) => {
      timer = setTimeout(extend, delay);
      timer.unref();
    };
    const extendOnce = async () => {
      // A lock that is already gone is not asked for: only its TTL could bring it back, and it cannot.
      if (validUntil < Date.now()) throw new Error('the lock had expired before it was extended');
      if (!(await lock.extend(token, ttlMs))) throw new Error(`${lock.key} no longer holds this run's token`);
    };
    const extend = () => {
      const sentAt = Date.now();
      extending = extendOnce().then(
        () => {
          validUntil = sentAt + ttlMs;
          if (firstFailure !== undefined) {
            this.logger.log(`Extended the lock of ${lock.key} again after failures since ${new Date(firstFailure).toISOString()}`);
          }
          firstFailure = undefined;
          if (!released) schedule(every);
        },
        (error: unknown) => {
          if (released) return;
          const now = Date.now();
          const expired = now + retryEvery >= validUntil;
          this.events.emit('cron.lock.extensionFailed', { cron: jobName, expired });
          if (firstFailure === undefined) {
            firstFailure = now;
            this.logger.warn(`Could not extend the lock of ${lock.key}, retrying while it is valid: ${this.clients.describe(error)}`);
          }
          if (!expired) {
            schedule(retryEvery);
            return;
          }
          const since = new Date(firstFailure).toISOString();
          this.logger.error(`Lost the lock of ${lock.key}: it expired unextended (failing since ${since})`);
          onLost(new Error(`it expired at ${new Date(validUntil).toISOString()}; extensions failed since ${since}: ${this.clients.describe(error)}`));
        },
      );
    };
    schedule(every);
    return {
      token,
      release: async () => {
        released = true;
        clearTimeout(timer);
        await extending;
        try {
          if (!(await lock.release(token))) throw new Error(`${lock.key} no longer holds this run's token`);
        } catch (error) {
          // It expires by itself; the next run only waits out the TTL.
          this.logger.warn(`Could not release ${lock.key}: ${this.clients.describe(error)}`);
        }
      },
    };
  }
}
