import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisConnections } from './redis-connections.js';
import type { RedisProfile } from './redis-profiles.js';
import { RedisChannels } from './redis-channels.js';

/** How long closing waits for a client's socket to end after QUIT before it cuts it off. */
const QUIT_WAIT_MS = 2_000;

type Shared = 'command' | 'failFast' | 'subscriber' | 'app';

/** The ioredis `keyPrefix` of the `@InjectRedis()` client: `${prefix}:app:`. */
export function appRedisKeyPrefix(prefix: string): string {
  return `${prefix}:app:`;
}

/**
 * The Redis clients of a process, one per use, shared by every service of the
 * library; no service builds a client of its own:
 *
 * - `command` (`<prefix>:tasks:command`): every queue of the library (BullMQ
 *   shares it), cancellations, published events, health checks.
 * - `failFast` (`<prefix>:tasks:fail-fast`): the cron locks and `bufferOne`
 *   places, the scheduler lease, the list of deployed tasks, schedules kept in
 *   Redis, the start of a result reader.
 * - `channels`, on the subscriber connection (`<prefix>:tasks:subscriber`):
 *   every channel the process listens to (cancellations, users' events).
 * - `app` (`<prefix>:tasks:app`): the `@InjectRedis()` client, keys under
 *   `<prefix>:app:` (its key prefix is why it cannot be the `command` one).
 *
 * Each connects on first use, so a process opens only what it uses, and each
 * closes once, at shutdown, after every service that uses it (Nest shuts the
 * providers that depend on this one down first), so after a worker has drained.
 * BullMQ's Workers and result readers (QueueEvents) block on Redis and get
 * connections of their own.
 */
@Injectable()
export class RedisClients implements OnApplicationShutdown {
  readonly channels: RedisChannels;
  private readonly built = new Map<Shared, Redis>();
  private closed = false;

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
  ) {
    this.channels = new RedisChannels(() => this.shared('subscriber', 'subscriber', 'subscriber'));
  }

  get command(): Redis {
    return this.shared('command', 'command', 'command');
  }

  get failFast(): Redis {
    return this.shared('failFast', 'fail-fast', 'fail-fast');
  }

  get app(): Redis {
    return this.shared('app', 'command', 'app', appRedisKeyPrefix(this.options.prefix));
  }

  /** An error's message with the Redis password scrubbed. */
  describe(error: unknown): string {
    return this.connections.describe(error);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.built.values()].map((client) => close(client)));
  }

  private shared(slot: Shared, profile: RedisProfile, role: string, keyPrefix?: string): Redis {
    let client = this.built.get(slot);
    if (!client) {
      client = this.connections.create(profile, role, { lazyConnect: true, ...(keyPrefix ? { keyPrefix } : {}) });
      // Asked for after shutdown: a closed client, whose commands fail, rather than a connection nobody closes.
      if (this.closed) client.disconnect();
      else this.built.set(slot, client);
    }
    return client;
  }
}

async function close(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  // A lazy client that never connected has nothing to QUIT.
  if (client.status === 'wait') {
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  // QUIT lets the commands sent before it finish; a Redis that does not answer
  // (away, or commands queued for a reconnect) is cut off after the wait, so
  // shutdown never waits for Redis.
  void client.quit().catch(() => client.disconnect());
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, QUIT_WAIT_MS);
  });
  await Promise.race([ended, stuck]);
  clearTimeout(timer);
  // (ioredis changed the status meanwhile; TypeScript still sees the one checked above.)
  if ((client.status as string) !== 'end') client.disconnect();
}
