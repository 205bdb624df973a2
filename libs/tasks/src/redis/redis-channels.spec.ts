import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisChannels } from './redis-channels.js';

/** A subscriber connection that records its commands and refuses the channels in `refuse`. */
class FakeSubscriber extends EventEmitter {
  readonly commands: string[] = [];
  readonly refuse = new Set<string>();

  async subscribe(channel: string): Promise<number> {
    this.commands.push(`SUBSCRIBE ${channel}`);
    if (this.refuse.has(channel)) throw new Error(`refused ${channel}`);
    return 1;
  }

  async unsubscribe(channel: string): Promise<number> {
    this.commands.push(`UNSUBSCRIBE ${channel}`);
    return 0;
  }

  publish(channel: string, message: string): void {
    this.emit('message', channel, message);
  }
}

function channels() {
  const subscriber = new FakeSubscriber();
  let opened = 0;
  const dispatch = new RedisChannels(() => {
    opened++;
    return subscriber as unknown as Redis;
  });
  return { dispatch, subscriber, opened: () => opened };
}

describe('RedisChannels: every channel of a process on one subscriber connection', () => {
  it('opens the connection on the first listen only, subscribes a channel once however many listen, and gives each listener each message', async () => {
    const { dispatch, subscriber, opened } = channels();
    expect(opened()).toBe(0);
    const got: string[] = [];
    const a = dispatch.listen('cancel', (message) => got.push(`a:${message}`));
    const b = dispatch.listen('cancel', (message) => got.push(`b:${message}`));
    const c = dispatch.listen('events:alice', (message) => got.push(`c:${message}`));
    await Promise.all([a.subscribed, b.subscribed, c.subscribed]);
    expect(opened()).toBe(1);
    expect(subscriber.commands).toEqual(['SUBSCRIBE cancel', 'SUBSCRIBE events:alice']);

    subscriber.publish('cancel', '1');
    subscriber.publish('events:alice', '2');
    subscriber.publish('events:bob', 'nobody listens');
    expect(got).toEqual(['a:1', 'b:1', 'c:2']);
  });

  it('unsubscribes a channel when its last listener closes, and subscribes it again for a later listener', async () => {
    const { dispatch, subscriber } = channels();
    const got: string[] = [];
    const a = dispatch.listen('cancel', (message) => got.push(`a:${message}`));
    const b = dispatch.listen('cancel', (message) => got.push(`b:${message}`));
    await a.close();
    subscriber.publish('cancel', '1');
    expect(got).toEqual(['b:1']);
    expect(subscriber.commands).toEqual(['SUBSCRIBE cancel']);

    await b.close();
    await b.close();
    expect(subscriber.commands).toEqual(['SUBSCRIBE cancel', 'UNSUBSCRIBE cancel']);
    subscriber.publish('cancel', '2');
    expect(got).toEqual(['b:1']);

    await dispatch.listen('cancel', (message) => got.push(`c:${message}`)).subscribed;
    expect(subscriber.commands).toEqual(['SUBSCRIBE cancel', 'UNSUBSCRIBE cancel', 'SUBSCRIBE cancel']);
    subscriber.publish('cancel', '3');
    expect(got).toEqual(['b:1', 'c:3']);
  });

  it('the same function listening twice is two listeners: each close removes one', async () => {
    const { dispatch, subscriber } = channels();
    const got: string[] = [];
    const onMessage = (message: string) => got.push(message);
    const first = dispatch.listen('cancel', onMessage);
    dispatch.listen('cancel', onMessage);
    subscriber.publish('cancel', '1');
    await first.close();
    subscriber.publish('cancel', '2');
    expect(got).toEqual(['1', '1', '2']);
  });

  it('a refused subscription rejects every listener waiting for it, drops them, and a later listen tries again', async () => {
    const { dispatch, subscriber } = channels();
    subscriber.refuse.add('events:alice');
    const got: string[] = [];
    const a = dispatch.listen('events:alice', (message) => got.push(`a:${message}`));
    const b = dispatch.listen('events:alice', (message) => got.push(`b:${message}`));
    await expect(a.subscribed).rejects.toThrow('refused events:alice');
    await expect(b.subscribed).rejects.toThrow('refused events:alice');
    subscriber.publish('events:alice', 'lost');
    expect(got).toEqual([]);

    subscriber.refuse.clear();
    await dispatch.listen('events:alice', (message) => got.push(`c:${message}`)).subscribed;
    subscriber.publish('events:alice', '1');
    expect(got).toEqual(['c:1']);
    expect(subscriber.commands).toEqual(['SUBSCRIBE events:alice', 'SUBSCRIBE events:alice']);
  });
});
