import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

// Each checks the owner and acts in one step: between a GET and a PEXPIRE or
// DEL of its own, the key could expire and be taken by someone else.
const EXTEND_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const TAKE_OR_EXTEND = `
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

/** A token no other holder has: 16 random bytes, hex. */
export function ownerToken(): string {
  return randomBytes(16).toString('hex');
}

/**
 * A Redis key owned by whoever wrote its token, for a time: the one primitive
 * behind the cron locks, the `bufferOne` waiting places and the scheduler
 * lease. Only the owner extends or deletes it, and it expires by itself
 * when its owner stops extending it (a crashed process frees it within its
 * TTL). Every call is one command, and none retries: a caller that gets no
 * answer decides itself what that means.
 *
 * It lives on one Redis: as safe as that Redis (a failover or restart that
 * loses the key frees it early), which is why the library guards what matters
 * by other means as well (the one-RUNNING-row rule of cron runs).
 */
export class OwnedKey {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
  ) {}

  /** Takes the key for `token` if nobody has it; true when taken. */
  async acquire(token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.key, token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Takes the key if nobody has it, or extends it if `token` has it; true when `token` has it afterwards. */
  async acquireOrExtend(token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(TAKE_OR_EXTEND, 1, this.key, token, String(ttlMs))) === 1;
  }

  /** Gives the key another `ttlMs` if `token` still has it; false when it does not (expired, or someone else's). */
  async extend(token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(EXTEND_IF_OURS, 1, this.key, token, String(ttlMs))) === 1;
  }

  /** Deletes the key if `token` has it; false when it does not. */
  async release(token: string): Promise<boolean> {
    return (await this.redis.eval(RELEASE_IF_OURS, 1, this.key, token)) === 1;
  }

  /** The token that has the key, or null when nobody does. */
  owner(): Promise<string | null> {
    return this.redis.get(this.key);
  }
}
