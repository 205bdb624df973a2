import { Inject, Injectable, Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'bullmq';
import { RedisPreflight } from './redis-preflight.js';
import { bullmqConnection, redisOptions, type RedisProfile } from './redis-profiles.js';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { redactSecrets, redactUrl } from '../redaction/redact.js';

/** How long the same error message of one connection is not logged again: one outage retries many times. */
const REPEAT_AFTER_MS = 60_000;

/**
 * The `CLIENT SETNAME` of a library connection: the prefix, `tasks`, then
 * what the connection is for (`myapp:tasks:command`), so `CLIENT LIST` tells
 * each deployment's connections and their roles apart.
 */
export function connectionName(prefix: string, role: string): string {
  // CLIENT SETNAME allows no spaces.
  return `${prefix}:tasks:${role}`.replace(/[^\w.:-]/g, '_');
}

/**
 * The one place the library builds Redis connections: every client has a
 * profile, a connection name (visible in CLIENT LIST) and an error listener
 * that logs through Nest's logger, with the URL's password redacted.
 * The clients the library's services share are in {@link RedisClients}; BullMQ
 * objects get their `connection` options here.
 */
@Injectable()
export class RedisConnections {
  private readonly logger = new Logger(RedisConnections.name);

  constructor(
    @Inject(TASKS_OPTIONS) private readonly settings: ResolvedTasksOptions,
    private readonly preflight: RedisPreflight,
  ) {}

  /**
   * `connection` of a BullMQ object (Worker, QueueEvents), which opens its own
   * connections; `role` names them (BullMQ renames a Worker's blocking
   * connection and a QueueEvents reader after their queue, which is how
   * `queue.getWorkers()` finds them).
   */
  bullmq(profile: RedisProfile, role?: string): ConnectionOptions {
    const options = bullmqConnection(this.settings.redisUrl, profile, this.settings.redisTls);
    return role === undefined ? options : { ...options, connectionName: connectionName(this.settings.prefix, role) };
  }

  /**
   * An error's message as the library logs it: the Redis password never
   * appears, whatever a driver put in the message.
   */
  describe(error: unknown): string {
    return redactSecrets(error instanceof Error ? error.message : String(error), this.settings.redisUrl);
  }

  /**
   * A listener for the `error` events of one connection (or BullMQ object),
   * logging `what: <message>`, scrubbed, through `logger` (default this
   * class's). Errors before the boot check passed
   * are left to it, so a failed boot says what is wrong first; the same
   * message again within a minute (every reconnect attempt of one outage) is
   * not repeated.
   */
  errorListener(what: string, logger: Logger = this.logger): (error: unknown) => void {
    let last = '';
    let lastAt = 0;
    return (error: unknown) => {
      if (!this.preflight.passed) return;
      const message = this.describe(error);
      const now = Date.now();
      if (message === last && now - lastAt < REPEAT_AFTER_MS) return;
      last = message;
      lastAt = now;
      logger.warn(`${what}: ${message}`);
    };
  }

  /** A new client named `<prefix>:tasks:<role>`; `lazyConnect` clients connect on first command. */
  create(profile: RedisProfile, role: string, extra: Pick<RedisOptions, 'keyPrefix' | 'lazyConnect'> = {}): Redis {
    const client = new Redis({
      ...redisOptions(this.settings.redisUrl, profile, this.settings.redisTls),
      ...extra,
      connectionName: connectionName(this.settings.prefix, role),
    });
    // ioredis reconnects by itself; without a listener Node would print the raw error.
    client.on('error', this.errorListener(`Redis (${role}) at ${redactUrl(this.settings.redisUrl)}`));
    return client;
  }
}
