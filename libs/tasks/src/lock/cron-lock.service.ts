import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Redlock, ExecutionError, ResourceLockedError, type Lock } from '@sesamecare-oss/redlock';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { TasksEvents } from '../events/tasks-events.js';

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

// Extends the slot only while it is ours; deletes it only if it is ours.
const REFRESH_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const DELETE_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Redlock locks for cron jobs, one per job name. A held lock is extended
 * every third of its TTL for as long as the run lives, so the TTL only bounds
 * how long a crashed holder blocks the job, never how long a run may take.
 * A failed extension is retried until the lock has really expired; only then
 * is the run told it lost the lock. The lock keeps two runs apart in the
 * common case; the database's one-RUNNING-row rule is the guard when Redis
 * loses the key (restart, failover, eviction).
 */
@Injectable()
export class CronLockService implements OnApplicationShutdown {
  private readonly logger = new Logger(CronLockService.name);
  private client?: Redis;
  private redlock?: Redlock;

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
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
    let lock: Lock;
    try {
      lock = await this.locks().acquire([this.keyOf(jobName)], ttlMs);
    } catch (error) {
      if (await isHeldElsewhere(error)) return undefined;
      throw error;
    }
    return this.keepAlive(jobName, lock, ttlMs, onLost);
  }

  /**
   * Takes the job's one waiting place for a `bufferOne` tick, or undefined
   * when another tick already waits. It expires `ttlMs` after the last
   * refresh, so a waiting worker that dies frees it.
   */
  async tryTakeBufferSlot(jobName: string, holder: string, ttlMs: number): Promise<BufferSlot | undefined> {
    const key = this.bufferKeyOf(jobName);
    const taken = await this.redis().set(key, holder, 'PX', ttlMs, 'NX');
    if (taken !== 'OK') return undefined;
    return {
      refresh: async () => {
        await this.redis().eval(REFRESH_IF_OURS, 1, key, holder, String(ttlMs));
      },
      release: async () => {
        try {
          await this.redis().eval(DELETE_IF_OURS, 1, key, holder);
        } catch (error) {
          this.logger.warn(`Could not free the waiting place of ${jobName}: ${this.connections.describe(error)}`);
        }
      },
    };
  }

  /** Whether a `bufferOne` tick waits in the job's waiting place. */
  async isBufferSlotTaken(jobName: string): Promise<boolean> {
    return (await this.redis().exists(this.bufferKeyOf(jobName))) === 1;
  }

  private bufferKeyOf(jobName: string): string {
    return `${this.options.prefix}:cron-buffer:${jobName}`;
  }

  /** Whether the lock with this token is still the job's current lock. */
  async isHeld(jobName: string, token: string): Promise<boolean> {
    return (await this.redis().get(this.keyOf(jobName))) === token;
  }

  async onApplicationShutdown(): Promise<void> {
    this.client?.disconnect();
  }

  /**
   * Extends every third of the TTL. A failed extension is retried every
   * tenth of the TTL while the lock is still valid (its expiry counted from
   * the moment the last successful request was sent); when it expires
   * unextended, `onLost` is told, once.
   */
  private keepAlive(jobName: string, initial: Lock, ttlMs: number, onLost: (error: Error) => void): HeldLock {
    let lock = initial;
    let released = false;
    let validUntil = initial.expiration;
    let firstFailure: number | undefined;
    let extending: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const every = Math.max(Math.floor(ttlMs / 3), 100);
    const retryEvery = Math.max(Math.floor(ttlMs / 10), 50);
    const schedule = (delay: number) => {
      timer = setTimeout(extend, delay);
      timer.unref();
    };
    const extend = () => {
      const sentAt = Date.now();
      extending = lock.extend(ttlMs).then(
        (extended) => {
          lock = extended;
          validUntil = sentAt + ttlMs;
          if (firstFailure !== undefined) {
            this.logger.log(`Extended the lock of ${initial.resources[0]} again after failures since ${new Date(firstFailure).toISOString()}`);
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
            this.logger.warn(`Could not extend the lock of ${initial.resources[0]}, retrying while it is valid: ${this.connections.describe(error)}`);
          }
          if (!expired) {
            schedule(retryEvery);
            return;
          }
          const since = new Date(firstFailure).toISOString();
          this.logger.error(`Lost the lock of ${initial.resources[0]}: it expired unextended (failing since ${since})`);
          onLost(new Error(`it expired at ${new Date(validUntil).toISOString()}; extensions failed since ${since}: ${this.connections.describe(error)}`));
        },
      );
    };
    schedule(every);
    return {
      token: initial.value,
      release: async () => {
        released = true;
        clearTimeout(timer);
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
