import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../errors/tasks.errors.js';
import { assertJsonPayload } from './assert-json-payload.js';

class Upload {
  constructor(readonly id: string) {}
}

function rejection(payload: unknown): InvalidPayloadError {
  try {
    assertJsonPayload('processUpload', payload);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPayloadError);
    return error as InvalidPayloadError;
  }
  throw new Error(`payload was accepted: ${String(payload)}`);
}

describe('assertJsonPayload', () => {
  const circular: Record<string, unknown> = { name: 'loop' };
  circular.self = { back: circular };

  it.each([
    ['a function', { onDone: () => undefined }, 'payload.onDone', 'is a function'],
    ['a symbol', { tags: ['a', Symbol('b')] }, 'payload.tags[1]', 'is a symbol'],
    ['a BigInt', { file: { size: 10n } }, 'payload.file.size', 'is a BigInt'],
    ['a circular reference', circular, 'payload.self.back', 'is a circular reference'],
    ['undefined at the top level', undefined, 'payload', 'is undefined'],
    ['undefined in an array', [1, undefined], 'payload[1]', 'is undefined'],
    ['NaN', { ratio: Number.NaN }, 'payload.ratio', 'is NaN'],
    ['Infinity', { limit: Number.POSITIVE_INFINITY }, 'payload.limit', 'is Infinity'],
    ['a Date', { at: new Date(0) }, 'payload.at', 'is a Date instance'],
    ['a class instance', { upload: new Upload('u1') }, 'payload.upload', 'is a Upload instance'],
    ['a Map', { index: new Map() }, 'payload.index', 'is a Map instance'],
    ['a function under a key that is not an identifier', { 'on-done': () => 1 }, 'payload["on-done"]', 'is a function'],
  ])('rejects %s and names its path', (_what, payload, path, problem) => {
    const error = rejection(payload);
    expect(error.path).toBe(path);
    expect(error.message).toContain(`Payload of task "processUpload" is not JSON: ${path} ${problem}`);
  });

  it('hints at the fix for dates', () => {
    expect(rejection({ at: new Date(0) }).message).toContain('date.toISOString()');
  });

  it.each([
    ['a plain object', { uploadId: 'abc', sizes: [1, 2.5, -3], nested: { ok: true, none: null } }],
    ['a string', 'abc'],
    ['null', null],
    ['an empty array', []],
    ['an object without prototype', Object.assign(Object.create(null) as object, { a: 1 })],
    ['optional fields left undefined (JSON drops them, as optional fields expect)', { uploadId: 'abc', note: undefined }],
  ])('accepts %s', (_what, payload) => {
    expect(() => assertJsonPayload('processUpload', payload)).not.toThrow();
  });

  it('accepts the same object twice when it is shared, not circular', () => {
    const shared = { id: 1 };
    expect(() => assertJsonPayload('processUpload', { a: shared, b: [shared, shared] })).not.toThrow();
  });
});
