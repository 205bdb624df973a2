import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { Observable, type Subscriber } from 'rxjs';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisClients } from '../redis/redis-clients.js';
import type { ChannelListener } from '../redis/redis-channels.js';
import { assertUserId, decodeEvent, userEventsChannel, type PublishedEvent } from './task-event.js';

interface Channel {
  readonly userId: string;
  readonly subscribers: Set<Subscriber<PublishedEvent>>;
  listener?: ChannelListener;
}

/**
 * The receiving side of {@link EventPublisher}, for the process that talks to
 * clients (the api). The process's one subscriber connection carries every
 * user's channel (and the library's own); each channel is subscribed in Redis
 * while at least one local subscriber wants it, and its events are fanned out locally.
 *
 * ```ts
 * @Sse('users/:userId/events')
 * events(@Param('userId') userId: string): Observable<MessageEvent> {
 *   return this.subscriber.subscribe(userId).pipe(map((event) => ({ id: event.id, data: event })));
 * }
 * ```
 */
@Injectable()
export class EventSubscriber implements BeforeApplicationShutdown {
  private readonly logger = new Logger(EventSubscriber.name);
  /** By Redis channel name. */
  private readonly channels = new Map<string, Channel>();

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clients: RedisClients,
  ) {}

  /**
   * The events published to `userId` from the moment the subscription is
   * active in Redis, in publish order. Cold: nothing is subscribed until the
   * Observable is, and unsubscribing (e.g. the SSE client leaving) releases it.
   * It completes when the application shuts down and errors if Redis refuses
   * the subscription. Throws `InvalidEventError` at once for an invalid user id.
   */
  subscribe(userId: string): Observable<PublishedEvent> {
    assertUserId(userId);
    const name = userEventsChannel(this.options.prefix, userId);
    return new Observable<PublishedEvent>((subscriber) => {
      this.add(name, userId, subscriber);
      return () => this.remove(name, subscriber);
    });
  }

  /** Number of users this process is subscribed to in Redis. */
  get activeChannels(): number {
    return this.channels.size;
  }

  /** Ends every stream, so SSE responses finish and the HTTP server can close. */
  beforeApplicationShutdown(): void {
    const channels = [...this.channels.values()];
    this.channels.clear();
    for (const channel of channels) for (const subscriber of channel.subscribers) subscriber.complete();
  }

  private add(name: string, userId: string, subscriber: Subscriber<PublishedEvent>): void {
    const existing = this.channels.get(name);
    if (existing) {
      existing.subscribers.add(subscriber);
      return;
    }
    const channel: Channel = { userId, subscribers: new Set([subscriber]) };
    this.channels.set(name, channel);
    channel.listener = this.clients.channels.listen(name, (message) => this.deliver(name, message));
    channel.listener.subscribed.catch((error: Error) => {
      if (this.channels.get(name) !== channel) return;
      this.channels.delete(name);
      this.logger.error(`Could not subscribe to the events of user "${userId}": ${this.clients.describe(error)}`);
      for (const s of channel.subscribers) s.error(error);
    });
  }

  private remove(name: string, subscriber: Subscriber<PublishedEvent>): void {
    const channel = this.channels.get(name);
    if (!channel?.subscribers.delete(subscriber) || channel.subscribers.size > 0) return;
    this.channels.delete(name);
    channel.listener?.close().catch((error: unknown) => {
      this.logger.warn(`Could not unsubscribe from the events of user "${channel.userId}": ${this.clients.describe(error)}`);
    });
  }

  private deliver(name: string, message: string): void {
    const channel = this.channels.get(name);
    if (!channel) return;
    const event = decodeEvent(message);
    if (!event) {
      this.logger.warn(`Dropped a message on the events channel of user "${channel.userId}" that is not an event`);
      return;
    }
    // A copy: a subscriber that unsubscribes while handling an event does not skip the next one.
    for (const subscriber of Array.from(channel.subscribers)) subscriber.next(event);
  }
}
