import { InvalidPayloadError } from '../errors/tasks.errors.js';
import { invalidPayload } from '../tasks.messages.js';

/** JSON values: what a payload or a result may be. */
export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue | undefined };

/**
 * Rejects a value that would not come back equal from JSON.stringify/parse,
 * naming the offending path (e.g. `payload.items[2].size is a BigInt`).
 * Undefined object properties are allowed: JSON drops them, as optional fields expect.
 */
export function assertJsonPayload(task: string, value: unknown): void {
  const problem = findProblem(value, 'payload', new Set());
  if (problem) throw new InvalidPayloadError(invalidPayload(task, problem.path, problem.what), problem.path);
}

interface Problem {
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
