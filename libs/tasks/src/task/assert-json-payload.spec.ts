import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../errors/tasks.errors.js';
import { MAX_JSON_DEPTH, assertJsonPayload, resultProblem } from './assert-json-payload.js';

const MAX = 1_048_576;

class Upload {
  constructor(readonly id: string) {}
}

function rejection(payload: unknown): InvalidPayloadError {
  try {
    assertJsonPayload('processUpload', payload, MAX);
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
    expect(() => assertJsonPayload('processUpload', payload, MAX)).not.toThrow();
  });

  it('accepts the same object twice when it is shared, not circular', () => {
    const shared = { id: 1 };
    expect(() => assertJsonPayload('processUpload', { a: shared, b: [shared, shared] }, MAX)).not.toThrow();
  });

  /** `{ a: { a: … } }`, `depth` objects deep. */
  function nested(depth: number): unknown {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = { a: value };
    return value;
  }

  it('rejects a payload nested 5,000 levels deep with InvalidPayloadError naming the depth, not a stack overflow', () => {
    const error = rejection(nested(5_000));
    expect(error.message).toContain(`is nested deeper than ${MAX_JSON_DEPTH} levels`);
    expect(error.path).toBe(`payload${'.a'.repeat(MAX_JSON_DEPTH)}`);
    // Arrays count as levels too.
    let array: unknown = [];
    for (let i = 0; i < 5_000; i++) array = [array];
    expect(rejection(array).message).toContain('nested deeper');
  });

  it('accepts a payload exactly at the depth limit', () => {
    expect(() => assertJsonPayload('processUpload', nested(MAX_JSON_DEPTH), MAX)).not.toThrow();
    expect(rejection(nested(MAX_JSON_DEPTH + 1)).message).toContain('nested deeper');
  });

  it('rejects a payload whose JSON is over the limit, giving its size; counts bytes, not characters', () => {
    const tooBig = { blob: 'x'.repeat(MAX) };
    const error = (() => {
      try {
        assertJsonPayload('processUpload', tooBig, MAX);
      } catch (thrown) {
        return thrown as InvalidPayloadError;
      }
      throw new Error('accepted');
    })();
    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect(error.message).toContain(`Payload of task "processUpload" is ${MAX + 11} bytes as JSON, over the limit of ${MAX} (TasksModule's maxPayloadBytes)`);
    // 400 three-byte characters are 1,200 bytes (+ quotes): over a limit of 1,000 though only 402 characters long.
    expect(() => assertJsonPayload('t', '€'.repeat(400), 1_000)).toThrow('1202 bytes as JSON');
    expect(() => assertJsonPayload('t', '€'.repeat(300), 1_000)).not.toThrow();
  });
});

describe('resultProblem', () => {
  it('reports a result too large, or that JSON cannot encode, and nothing for a fine one', () => {
    expect(resultProblem({ ok: true }, 100)).toBeUndefined();
    expect(resultProblem(undefined, 100)).toBeUndefined();
    expect(resultProblem({ blob: 'x'.repeat(200) }, 100)?.what).toContain('over the limit of 100');
    expect(resultProblem({ size: 10n }, 100)?.what).toContain('cannot be sent as JSON');
  });
});
