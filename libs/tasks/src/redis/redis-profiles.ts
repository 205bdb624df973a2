import type { RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'bullmq';
import { TlsConnector } from './tls-connector.js';
import type { RedisTlsOptions } from '../options/tasks-options.interface.js';
import { parseRedisUrl } from '../redaction/connection-url.js';

/**
 * What a connection is for, which decides how it behaves when Redis is slow or away:
 * - `command`: BullMQ queues and the app's own client; commands wait for a reconnect, up to a timeout.
 * - `blocking`: BullMQ workers and event readers, whose commands block by design: no timeout, retried forever.
 * - `fail-fast`: locks, the scheduler lease, boot checks: one try and a short timeout, so the caller decides.
 * - `subscriber`: the one pub/sub connection of a process, for every channel.
 */
export type RedisProfile = 'command' | 'blocking' | 'fail-fast' | 'subscriber';

/** Per-command deadline of the `command` and `fail-fast` profiles: a Redis that accepts but never answers must not hang a caller. */
export const COMMAND_TIMEOUT_MS = 10_000;
export const FAIL_FAST_TIMEOUT_MS = 3_000;

const PROFILES: Record<RedisProfile, RedisOptions> = {
  command: { commandTimeout: COMMAND_TIMEOUT_MS },
  blocking: { maxRetriesPerRequest: null },
  'fail-fast': { maxRetriesPerRequest: 1, commandTimeout: FAIL_FAST_TIMEOUT_MS, connectTimeout: FAIL_FAST_TIMEOUT_MS },
  subscriber: { maxRetriesPerRequest: null },
};

/** ioredis options for `url` (and TLS settings) with the behaviour of `profile` (also what BullMQ objects get as `connection`). */
export function redisOptions(url: string, profile: RedisProfile, tls?: RedisTlsOptions): RedisOptions {
  const parsed = parseRedisUrl(url);
  if (tls) parsed.tls = { ...(typeof parsed.tls === 'object' ? parsed.tls : {}), ...tls };
  // BullMQ hands these options to the ioredis clients it builds, so they get the connector too.
  if (parsed.tls) parsed.Connector = TlsConnector;
  return { ...parsed, ...PROFILES[profile] };
}

/** The same, typed as BullMQ's `connection` option. */
export function bullmqConnection(url: string, profile: RedisProfile, tls?: RedisTlsOptions): ConnectionOptions {
  return redisOptions(url, profile, tls) as ConnectionOptions;
}
