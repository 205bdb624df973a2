import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { Observable, type Subscriber } from 'rxjs';
import type { EventPublisher } from '../pubsub/event-publisher.js';
import type { EventSubscriber } from '../pubsub/event-subscriber.js';
import { assertUserId, decodeEvent, encodeEvent, type PublishedEvent, type TaskEvent } from '../pubsub/task-event.js';

/** An event the code under test published, with its user. */
export interface PublishedUserEvent {
  readonly userId: string;
  readonly event: PublishedEvent;
  /** Subscribers of this app that got it (0 when nobody listened). */
  readonly receivers: number;
}

/**
 * `EventPublisher` and `EventSubscriber` of the testing kit, in memory:
 * events are checked as production checks them, delivered to this app's
 * subscribers as decoded JSON, and kept for the test to read.
 */
@Injectable()
export class TestingUserEvents implements Pick<EventPublisher, 'publish'>, Pick<EventSubscriber, 'subscribe' | 'activeChannels' | 'beforeApplicationShutdown'>, BeforeApplicationShutdown {
  private readonly channels = new Map<string, Set<Subscriber<PublishedEvent>>>();
  private log: PublishedUserEvent[] = [];

  /** As `EventPublisher.publish`: `InvalidEventError` for an event production refuses; `receivers` counts this app's subscribers (0 or 1, a process). */
  async publish(userId: string, event: TaskEvent): Promise<{ event: PublishedEvent; receivers: number }> {
    const { published, json } = encodeEvent(userId, event);
    const subscribers = this.channels.get(userId);
    const receivers = subscribers && subscribers.size > 0 ? 1 : 0;
    this.log.push({ userId, event: published, receivers });
    // A copy: a subscriber that subscribes another while handling an event does not get this one twice.
    for (const subscriber of Array.from(subscribers ?? [])) subscriber.next(decodeEvent(json) as PublishedEvent);
    return { event: published, receivers };
  }

  /** As `EventSubscriber.subscribe`: the user's events from now on, completed when the app closes. */
  subscribe(userId: string): Observable<PublishedEvent> {
    assertUserId(userId);
    return new Observable<PublishedEvent>((subscriber) => {
      let set = this.channels.get(userId);
      if (!set) this.channels.set(userId, (set = new Set()));
      set.add(subscriber);
      return () => {
        set.delete(subscriber);
        if (set.size === 0 && this.channels.get(userId) === set) this.channels.delete(userId);
      };
    });
  }

  get activeChannels(): number {
    return this.channels.size;
  }

  /** Events published so far, oldest first; only `userId`'s when given. */
  published(userId?: string): PublishedUserEvent[] {
    return userId === undefined ? [...this.log] : this.log.filter((entry) => entry.userId === userId);
  }

  reset(): void {
    this.log = [];
  }

  beforeApplicationShutdown(): void {
    const sets = [...this.channels.values()];
    this.channels.clear();
    for (const set of sets) for (const subscriber of set) subscriber.complete();
  }
}
