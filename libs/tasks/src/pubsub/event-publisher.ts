import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisClients } from '../redis/redis-clients.js';
import { encodeEvent, userEventsChannel, type PublishedEvent, type TaskEvent } from './task-event.js';

/**
 * Pushes real-time events to a user's clients (the seed's `get_event_publisher`).
 * Events go over Redis pub/sub on the user's channel, so whichever api replica
 * holds the user's Server-Sent Events connection delivers them.
 *
 * ```ts
 * constructor(private readonly events: EventPublisher) {}
 * await this.events.publish(userId, { name: 'upload.progress', payload: { uploadId, percent: 40 } });
 * ```
 *
 * Pub/sub is fire-and-forget: a user with no client connected at that moment
 * does not get the event later. Keep the state of record in the database and
 * use events to tell clients that it changed.
 */
@Injectable()
export class EventPublisher {
  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clients: RedisClients,
  ) {}

  /**
   * Validates `event` (a non-empty name, a JSON payload, at most
   * `MAX_EVENT_BYTES` encoded) and publishes it to `userId`'s channel.
   * Rejects with `InvalidEventError`, naming the offending field, before anything is sent.
   * Resolves with the event as subscribers receive it and the number of
   * processes (api replicas) that were listening for this user: 0 means nobody got it.
   */
  async publish(userId: string, event: TaskEvent): Promise<{ event: PublishedEvent; receivers: number }> {
    const { published, json } = encodeEvent(userId, event);
    const receivers = await this.clients.command.publish(userEventsChannel(this.options.prefix, userId), json);
    return { event: published, receivers };
  }
}
