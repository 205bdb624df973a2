import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { Redis } from 'ioredis';
import { FAIL_FAST_TIMEOUT_MS, redisOptions } from './redis-profiles.js';
import { ServiceUnreachableError } from '../errors/tasks.errors.js';
import { redisAuthRefused, redisNoSuchDb, redisSilent, redisUnreachable } from '../errors/tasks.messages.js';
import { redactSecrets } from '../redaction/redact.js';

/**
 * Fails the boot within seconds, with one message naming Redis, the fault and
 * the fix, when Redis cannot be used (unreachable, silent, login refused, no
 * such database).
 */
@Injectable()
export class RedisPreflight implements OnModuleInit {
  private passedCheck = false;

  constructor(@Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions) {}

  /** Whether Redis answered at boot. Until then, connection errors are the check's to report, once and clearly. */
  get passed(): boolean {
    return this.passedCheck;
  }

  async onModuleInit(): Promise<void> {
    await assertRedisReachable(this.options);
    this.passedCheck = true;
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
