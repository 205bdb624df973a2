import { randomUUID } from 'node:crypto';
import { findJsonProblem, type JsonValue } from '../task/assert-json-payload.js';
import { InvalidEventError } from './event.errors.js';

/**
 * What a task publishes to a user's clients: a name they switch on and a JSON
 * payload. Both type parameters are optional; narrow them for a typed event:
 * `TaskEvent<{ uploadId: string; percent: number }, 'upload.progress'>`.
 * (Describe payloads with `type` aliases: TypeScript does not let an
 * `interface` stand for a JSON object.)
 */
export interface TaskEvent<TPayload extends JsonValue = JsonValue, TName extends string = string> {
  name: TName;
  payload: TPayload;
}

/** An event as subscribers receive it (and as it travels over Redis, JSON-encoded). */
export interface PublishedEvent<TPayload extends JsonValue = JsonValue, TName extends string = string>
  extends TaskEvent<TPayload, TName> {
  /** Unique id (a UUID); the api also sends it as the SSE `id`. */
  id: string;
  /** When it was published, as an ISO 8601 string. */
  publishedAt: string;
}

/** Largest event, JSON-encoded, that `publish` accepts: pub/sub is for notifications, not for data. */
export const MAX_EVENT_BYTES = 64 * 1024;
export const MAX_EVENT_NAME_LENGTH = 200;
export const MAX_USER_ID_LENGTH = 256;

/**
 * The Redis pub/sub channel of a user's events: `${prefix}:events:${userId}`.
 * Public so that a process without Nest (another language, a gateway) can
 * subscribe too; messages are JSON {@link PublishedEvent}s.
 */
export function userEventsChannel(prefix: string, userId: string): string {
  return `${prefix}:events:${userId}`;
}

/** Newlines and other control characters would break line-based consumers (SSE, logs). */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

export function assertUserId(userId: unknown, path = 'userId'): asserts userId is string {
  const problem =
    typeof userId !== 'string'
      ? `is ${describe(userId)}; pass the user's id as a string`
      : userId.length === 0
        ? 'is empty'
        : userId.length > MAX_USER_ID_LENGTH
          ? `is ${userId.length} characters long; the limit is ${MAX_USER_ID_LENGTH}`
          : hasControlCharacter(userId)
            ? 'contains a control character (newline, tab, ...)'
            : undefined;
  if (problem) throw new InvalidEventError(`Invalid user id for an event: ${path} ${problem}.`, path);
}

/** Validates `event` for `userId` and returns it as published, plus its JSON encoding. */
export function encodeEvent(userId: string, event: TaskEvent): { published: PublishedEvent; json: string } {
  assertUserId(userId);
  const name = describeEventName(event);
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    reject(name, 'event', `is ${describe(event)}; an event is an object { name, payload }`);
  }
  const unknown = Object.keys(event).filter((key) => key !== 'name' && key !== 'payload');
  if (unknown.length > 0) {
    reject(name, `event.${unknown[0]}`, `is not an event field; an event has only "name" and "payload"`);
  }
  if (typeof event.name !== 'string') {
    reject(name, 'event.name', `is ${describe(event.name)}; name the event with a non-empty string`);
  }
  if (event.name.trim().length === 0) reject(name, 'event.name', 'is empty');
  if (event.name.length > MAX_EVENT_NAME_LENGTH) {
    reject(name, 'event.name', `is ${event.name.length} characters long; the limit is ${MAX_EVENT_NAME_LENGTH}`);
  }
  if (hasControlCharacter(event.name)) reject(name, 'event.name', 'contains a control character');
  if (!('payload' in event)) reject(name, 'event.payload', 'is missing; pass null for an event without data');
  const problem = findJsonProblem(event.payload, 'event.payload');
  if (problem) reject(name, problem.path, `${problem.what}. Event payloads travel as JSON`);

  const published: PublishedEvent = {
    id: randomUUID(),
    name: event.name,
    payload: event.payload,
    publishedAt: new Date().toISOString(),
  };
  const json = JSON.stringify(published);
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_EVENT_BYTES) {
    reject(
      name,
      'event.payload',
      `makes the event ${bytes} bytes of JSON; the limit is ${MAX_EVENT_BYTES}. ` +
        'Publish a reference (an id, a URL) and let the client fetch the data',
    );
  }
  return { published, json };
}

/** Parses a message received on an events channel; undefined if it is not a published event. */
export function decodeEvent(message: string): PublishedEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const event = value as Partial<PublishedEvent>;
  const valid =
    typeof event.id === 'string' &&
    typeof event.name === 'string' &&
    typeof event.publishedAt === 'string' &&
    'payload' in event;
  return valid ? (event as PublishedEvent) : undefined;
}

function describeEventName(event: unknown): string {
  const name = (event as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.trim() !== '' ? `Event "${name.slice(0, MAX_EVENT_NAME_LENGTH)}"` : 'Event';
}

function reject(event: string, path: string, problem: string): never {
  throw new InvalidEventError(`${event} cannot be published: ${path} ${problem}.`, path);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `of type ${typeof value}`;
}
