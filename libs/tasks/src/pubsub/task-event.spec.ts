import { describe, expect, it } from 'vitest';
import { InvalidEventError } from './event.errors.js';
import { MAX_EVENT_BYTES, assertUserId, decodeEvent, encodeEvent, userEventsChannel, type TaskEvent } from './task-event.js';

function rejection(userId: unknown, event: unknown): InvalidEventError {
  try {
    encodeEvent(userId as string, event as TaskEvent);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return error as InvalidEventError;
  }
  throw new Error(`event was accepted: ${JSON.stringify(event)}`);
}

describe('event validation at publish', () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;

  it.each([
    ['not an object', 'upload.progress', 'event', 'an event is an object { name, payload }'],
    ['an array', [], 'event', 'is an array'],
    ['no name', { payload: 1 }, 'event.name', 'is of type undefined'],
    ['a name that is not a string', { name: 42, payload: 1 }, 'event.name', 'is of type number'],
    ['an empty name', { name: '', payload: 1 }, 'event.name', 'is empty'],
    ['a blank name', { name: '   ', payload: 1 }, 'event.name', 'is empty'],
    ['a name with a newline', { name: 'a\nb', payload: 1 }, 'event.name', 'control character'],
    ['a name too long', { name: 'x'.repeat(201), payload: 1 }, 'event.name', 'the limit is 200'],
    ['no payload', { name: 'ping' }, 'event.payload', 'is missing; pass null'],
    ['a misspelled field', { name: 'ping', data: 1 }, 'event.data', 'is not an event field'],
    ['a BigInt in the payload', { name: 'ping', payload: { size: 10n } }, 'event.payload.size', 'is a BigInt'],
    ['a Date in the payload', { name: 'ping', payload: { at: new Date(0) } }, 'event.payload.at', 'is a Date instance'],
    ['a function in the payload', { name: 'ping', payload: [() => 1] }, 'event.payload[0]', 'is a function'],
    ['a circular payload', { name: 'ping', payload: circular }, 'event.payload.self', 'is a circular reference'],
    ['undefined payload', { name: 'ping', payload: undefined }, 'event.payload', 'is undefined'],
  ])('rejects %s, naming the path', (_case, event, path, problem) => {
    const error = rejection('user-1', event);
    expect(error.path).toBe(path);
    expect(error.message).toContain(path);
    expect(error.message).toContain(problem);
  });

  it('names the event in the message when it has a name', () => {
    expect(rejection('user-1', { name: 'upload.progress', payload: { n: 1n } }).message).toMatch(
      /^Event "upload\.progress" cannot be published: event\.payload\.n is a BigInt/,
    );
  });

  it('rejects an event larger than MAX_EVENT_BYTES, with its size, and accepts one just under', () => {
    const error = rejection('user-1', { name: 'big', payload: 'é'.repeat(MAX_EVENT_BYTES / 2) });
    expect(error.path).toBe('event.payload');
    expect(error.message).toMatch(/makes the event \d+ bytes of JSON; the limit is 65536/);
    expect(() => encodeEvent('user-1', { name: 'big', payload: 'x'.repeat(MAX_EVENT_BYTES - 200) })).not.toThrow();
  });

  it.each([
    ['a number', 42, 'is of type number'],
    ['empty', '', 'is empty'],
    ['too long', 'u'.repeat(257), 'the limit is 256'],
    ['with a newline', 'a\nb', 'control character'],
  ])('rejects a user id that is %s', (_case, userId, problem) => {
    const error = rejection(userId, { name: 'ping', payload: null });
    expect(error.path).toBe('userId');
    expect(error.message).toContain(problem);
    expect(() => assertUserId(userId)).toThrow(InvalidEventError);
  });

  it('encodes a valid event with an id and a timestamp, and decodes it back', () => {
    const { published, json } = encodeEvent('user-1', { name: 'upload.progress', payload: { uploadId: 'a', percent: 40 } });
    expect(published).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'upload.progress',
      payload: { uploadId: 'a', percent: 40 },
      publishedAt: expect.any(String),
    });
    expect(new Date(published.publishedAt).toISOString()).toBe(published.publishedAt);
    expect(decodeEvent(json)).toEqual(published);
    expect(encodeEvent('user-1', { name: 'ping', payload: null }).published.id).not.toBe(published.id);
  });

  it('decodes only messages that are published events', () => {
    expect(decodeEvent('not json')).toBeUndefined();
    expect(decodeEvent('42')).toBeUndefined();
    expect(decodeEvent(JSON.stringify({ name: 'x', payload: 1 }))).toBeUndefined();
  });

  it('namespaces the channel by prefix and user', () => {
    expect(userEventsChannel('tasks', 'user-1')).toBe('tasks:events:user-1');
  });
});
