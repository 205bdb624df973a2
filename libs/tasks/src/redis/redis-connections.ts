import { Inject, Injectable, Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'bullmq';
import { TlsConnector } from './tls-connector.js';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { RedisTlsOptions, ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { ServiceUnreachableError } from '../errors/tasks.errors.js';
import { redisAuthRefused, redisNoSuchDb, redisSilent, redisUnreachable } from '../errors/tasks.messages.js';
import { redactSecrets, redactUrl } from '../redaction/redact.js';
import { parseRedisUrl } from '../redaction/connection-url.js';

/**
 * What a connection is for, which decides how it behaves when Redis is slow or away:
 * - `command`: BullMQ queues and the app's own client; commands wait for a reconnect, up to a timeout.
 * - `blocking`: BullMQ workers and event readers, whose commands block by design: no timeout, retried forever.
 * - `fail-fast`: locks, the scheduler lease, boot checks: one try and a short timeout, so the caller decides.
 * - `subscriber`: the one pub/sub connection of a process.
 */
export type RedisProfile = 'command' | 'blocking' | 'fail-fast' | 'subscriber';

/** Per-command deadline of the `command` and `fail-fast` profiles: a Redis that accepts but never answers must not hang a caller. */
export const COMMAND_TIMEOUT_MS = 10_000;
const FAIL_FAST_TIMEOUT_MS = 3_000;

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

/**
 * The one place the library builds Redis connections: every client has a
 * profile, a connection name (visible in CLIENT LIST) and an error listener
 * that logs through Nest's logger, with the URL's password redacted.
 */
@Injectable()
export class RedisConnections {
  private readonly logger = new Logger(RedisConnections.name);

  constructor(@Inject(TASKS_OPTIONS) private readonly settings: ResolvedTasksOptions) {}

  /** `connection` of a BullMQ object (Queue, Worker, QueueEvents), which opens its own connections. */
  bullmq(profile: RedisProfile): ConnectionOptions {
    return bullmqConnection(this.settings.redisUrl, profile, this.settings.redisTls);
  }

  /**
   * An error's message as the library logs it: the Redis password never
   * appears, whatever a driver put in the message.
   */
  describe(error: unknown): string {
    return redactSecrets(error instanceof Error ? error.message : String(error), this.settings.redisUrl);
  }

  /** A new client; `lazyConnect` clients connect on first command. */
  create(profile: RedisProfile, name: string, extra: Pick<RedisOptions, 'keyPrefix' | 'lazyConnect'> = {}): Redis {
    const client = new Redis({
      ...redisOptions(this.settings.redisUrl, profile, this.settings.redisTls),
      ...extra,
      // CLIENT LIST allows no spaces in names.
      connectionName: `${this.settings.prefix}:${name}`.replace(/[^\w.:-]/g, '_'),
    });
    // ioredis reconnects by itself; without a listener Node would print the raw error.
    client.on('error', (error: Error) => this.logger.warn(`Redis (${name}) at ${redactUrl(this.settings.redisUrl)}: ${this.describe(error)}`));
    return client;
  }
}

/**
 * Fails within about twice `timeoutMs` (connect, then PING and SELECT) with a
 * message that names the fault and the fix — unreachable, silent, login
 * refused, no such database — instead of letting ioredis retry silently forever at boot.
 */
export async function assertRedisReachable(
  settings: Pick<ResolvedTasksOptions, 'redisUrl' | 'redisTls' | 'sources'>,
  timeoutMs = FAIL_FAST_TIMEOUT_MS,
): Promise<void> {
  const { redisUrl: url, redisTls: tls, sources } = settings;
  const options = redisOptions(url, 'fail-fast', tls);
  // Selecting the db ourselves, below, reports a bad index instead of ioredis' silent retries.
  const db = options.db ?? 0;
  const client = new Redis({
    ...options,
    db: 0,
    lazyConnect: true,
    // connect() resolves once the socket is open; PING below is the first command, with its timeout.
    enableReadyCheck: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // ioredis reports the real cause (ECONNREFUSED, ENOTFOUND) as an 'error'
  // event and rejects connect() with a bare "Connection is closed".
  let cause: Error | undefined;
  client.on('error', (error: Error) => {
    cause ??= error;
  });
  const scrubbed = (error: Error) => redactSecrets(error.message, url);
  try {
    try {
      await client.connect();
    } catch (error) {
      const reason = cause ?? (error as Error);
      if (isAuthError(reason)) throw new ServiceUnreachableError(redisAuthRefused(url, scrubbed(reason), sources));
      if (isTimeout(reason)) throw new ServiceUnreachableError(redisSilent(url, timeoutMs, sources));
      throw new ServiceUnreachableError(redisUnreachable(url, scrubbed(reason), sources));
    }
    try {
      await client.ping();
    } catch (error) {
      const reason = cause ?? (error as Error);
      if (isAuthError(reason) || isAuthError(error)) throw new ServiceUnreachableError(redisAuthRefused(url, scrubbed(reason), sources));
      if (isTimeout(error)) throw new ServiceUnreachableError(redisSilent(url, timeoutMs, sources));
      throw new ServiceUnreachableError(redisUnreachable(url, scrubbed(reason), sources));
    }
    if (db !== 0) {
      try {
        await client.select(db);
      } catch (error) {
        throw new ServiceUnreachableError(redisNoSuchDb(url, db, scrubbed(error as Error), sources));
      }
    }
  } finally {
    client.disconnect();
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && /timed? ?out|ETIMEDOUT/i.test(error.message);
}

function isAuthError(error: unknown): boolean {
  return error instanceof Error && /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(error.message);
}
