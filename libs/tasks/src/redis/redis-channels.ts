import type { Redis } from 'ioredis';

/** One listener of a channel, from {@link RedisChannels.listen}. */
export interface ChannelListener {
  /**
   * Resolves once Redis confirmed the subscription: messages published from
   * then on reach the listener. Rejects when Redis refused it; the listener
   * (and every other one of the channel waiting for that subscription) is then gone.
   */
  readonly subscribed: Promise<void>;
  /** Stops the deliveries at once; the channel is unsubscribed in Redis when it was its last listener. */
  close(): Promise<void>;
}

interface Channel {
  readonly listeners: Set<(message: string) => void>;
  /** The SUBSCRIBE that made the channel active; later listeners wait for it too. */
  readonly subscribed: Promise<void>;
}

/**
 * Every channel the process listens to, on its one subscriber connection (a
 * connection in subscriber mode can run nothing else): cancellations, users'
 * events, any other. A channel is subscribed in Redis while it has at least
 * one listener, and each message goes to each of them. ioredis subscribes
 * again by itself after a reconnect.
 */
export class RedisChannels {
  private readonly channels = new Map<string, Channel>();
  private connection?: Redis;

  /** `open` builds the subscriber connection, on the first `listen`. */
  constructor(private readonly open: () => Redis) {}

  /** Calls `onMessage` with each message published to `channel`, until `close()`. */
  listen(channel: string, onMessage: (message: string) => void): ChannelListener {
    const redis = this.subscriber();
    // A wrapper of its own, so that the same function can listen twice and be closed once.
    const listener = (message: string) => onMessage(message);
    let entry = this.channels.get(channel);
    if (entry) {
      entry.listeners.add(listener);
    } else {
      const listeners = new Set([listener]);
      const subscribed = redis.subscribe(channel).then(
        () => undefined,
        (error: unknown) => {
          // Everyone waiting for this SUBSCRIBE learns of the refusal; a later listen tries again.
          if (this.channels.get(channel)?.listeners === listeners) this.channels.delete(channel);
          throw error;
        },
      );
      // Callers learn of a refusal through `subscribed`; this keeps one nobody awaits from going unhandled.
      subscribed.catch(() => undefined);
      entry = { listeners, subscribed };
      this.channels.set(channel, entry);
    }
    const current = entry;
    return {
      subscribed: current.subscribed,
      close: async () => {
        if (!current.listeners.delete(listener) || current.listeners.size > 0) return;
        if (this.channels.get(channel) !== current) return;
        this.channels.delete(channel);
        // Commands run in order on the connection: a later SUBSCRIBE of the same channel wins.
        await redis.unsubscribe(channel);
      },
    };
  }

  private subscriber(): Redis {
    if (!this.connection) {
      this.connection = this.open();
      this.connection.on('message', (channel: string, message: string) => {
        const listeners = this.channels.get(channel)?.listeners;
        // A copy: a listener that closes while handling a message does not skip the next one.
        if (listeners) for (const listener of Array.from(listeners)) listener(message);
      });
    }
    return this.connection;
  }
}
