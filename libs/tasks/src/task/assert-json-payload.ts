import { InvalidPayloadError } from '../errors/tasks.errors.js';
import { invalidPayload, payloadTooLarge } from '../errors/tasks.messages.js';

/** A JSON scalar. */
export type JsonPrimitive = string | number | boolean | null;
/** JSON values: what a payload or a result may be (an `undefined` property is left out, as `JSON.stringify` does). */
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue | undefined };

/** Nesting deeper than this is refused: no real payload needs it, and walking it must not overflow the stack. */
export const MAX_JSON_DEPTH = 64;

/**
 * Rejects a value that would not come back equal from JSON.stringify/parse,
 * naming the offending path (e.g. `payload.items[2].size is a BigInt`), one
 * nested deeper than {@link MAX_JSON_DEPTH} levels, and one whose JSON is
 * larger than `maxBytes`. Undefined object properties are allowed: JSON drops
 * them, as optional fields expect.
 */
export function assertJsonPayload(task: string, value: unknown, maxBytes: number): void {
  const problem = findProblem(value, 'payload', new Set());
  if (problem) throw new InvalidPayloadError(invalidPayload(task, problem.path, problem.what), problem.path);
  const tooLarge = sizeProblem(value, 'payload', maxBytes);
  if (tooLarge) throw new InvalidPayloadError(payloadTooLarge(task, tooLarge.what), 'payload');
}

/** What is wrong with a task's result as JSON (too large, or not serializable at all), if anything. */
export function resultProblem(result: unknown, maxBytes: number): Problem | undefined {
  try {
    return sizeProblem(result, 'result', maxBytes);
  } catch (error) {
    return { path: 'result', what: `cannot be sent as JSON (${(error as Error).message})` };
  }
}

/** The size of `value` as JSON, when it is over `maxBytes` (as a problem), else undefined. */
export function sizeProblem(value: unknown, path: string, maxBytes: number): Problem | undefined {
  const json = JSON.stringify(value) ?? '';
  // A UTF-16 unit is at most 3 bytes of UTF-8: most values need no byte count.
  if (json.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.byteLength(json, 'utf8');
  return bytes > maxBytes ? { path, what: `is ${bytes} bytes as JSON, over the limit of ${maxBytes}` } : undefined;
}

export interface Problem {
  path: string;
  what: string;
}

/**
 * The first part of `value` that would not survive a JSON round trip, as a
 * path under `root` and what is wrong with it; undefined when it is JSON.
 */
export function findJsonProblem(value: unknown, root: string): Problem | undefined {
  return findProblem(value, root, new Set());
}

function findProblem(value: unknown, path: string, ancestors: Set<object>): Problem | undefined {
  if (ancestors.size >= MAX_JSON_DEPTH && typeof value === 'object' && value !== null) {
    return { path, what: `is nested deeper than ${MAX_JSON_DEPTH} levels` };
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { path, what: `is ${value} (JSON turns it into null)` };
    case 'undefined':
      return { path, what: 'is undefined (JSON drops it); pass null or leave the field out' };
    case 'bigint':
      return { path, what: 'is a BigInt; pass it as a string' };
    case 'function':
      return { path, what: 'is a function' };
    case 'symbol':
      return { path, what: 'is a symbol' };
  }
  if (value === null) return undefined;
  const object = value as object;
  if (ancestors.has(object)) return { path, what: 'is a circular reference' };
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        const problem = findProblem(object[i], `${path}[${i}]`, ancestors);
        if (problem) return problem;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(object) as object | null;
    if (proto !== Object.prototype && proto !== null) {
      const kind = object.constructor?.name ?? 'object';
      const hint = object instanceof Date ? '; pass date.toISOString()' : '; pass a plain object';
      return { path, what: `is a ${kind} instance (JSON loses its type)${hint}` };
    }
    for (const [key, child] of Object.entries(object)) {
      if (child === undefined) continue;
      const problem = findProblem(child, `${path}${propertyPath(key)}`, ancestors);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    ancestors.delete(object);
  }
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
