import http from 'node:http';
import { Redis } from 'ioredis';
import { userEventsChannel, type PublishedEvent } from 'nestjs-tasks/extras';
import { REDIS_URL } from './redis.js';
import { waitFor } from './wait-for.js';

/** One Server-Sent Event as received. */
export interface ReceivedEvent {
  /** The SSE `id:` field. */
  sseId: string | undefined;
  /** The `data:` field, parsed as JSON. */
  data: PublishedEvent;
}

/** What arrived, in order: an event, a comment (`: ...`) or a `retry:` hint. */
export type Frame = { kind: 'event'; event: ReceivedEvent } | { kind: 'comment'; text: string } | { kind: 'retry'; ms: number };

/**
 * A Server-Sent Events client on plain node:http (what a browser's EventSource
 * does, minus reconnecting): collects every event of one streaming response.
 */
export class SseClient {
  readonly events: ReceivedEvent[] = [];
  /** Comments (`: keep-alive` heartbeats), without the colon and its space. */
  readonly comments: string[] = [];
  /** Every `retry:` value, in milliseconds. */
  readonly retries: number[] = [];
  /** Events, comments and retry hints, in arrival order. */
  readonly frames: Frame[] = [];
  /** Anything else (an `event:` field, an unknown field, a malformed line), which the api is not expected to send. */
  readonly other: string[] = [];
  /** Resolves when the stream finishes: 'end' if the server ended it cleanly, 'aborted' if the connection broke. */
  readonly finished: Promise<'end' | 'aborted'>;
  private buffer = '';
  private constructor(
    private readonly request: http.ClientRequest,
    readonly response: http.IncomingMessage,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.receive(chunk));
    this.finished = new Promise((resolve) => {
      response.once('end', () => resolve('end'));
      response.once('aborted', () => resolve('aborted'));
      response.once('error', () => resolve('aborted'));
    });
  }

  /** Connects (with `headers`, e.g. authHeaders() from ./auth.js) and resolves once the response headers arrive, whatever the status. */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (response) =>
        resolve(new SseClient(request, response)),
      );
      request.once('error', reject);
    });
  }

  get status(): number | undefined {
    return this.response.statusCode;
  }

  /** The events' names and payloads, in arrival order. */
  get received(): Array<{ name: string; payload: unknown }> {
    return this.events.map(({ data }) => ({ name: data.name, payload: data.payload }));
  }

  /** Waits until `count` comments equal to `text` have arrived. */
  waitForComments(text: string, count: number, what: string, timeoutMs = 20_000): Promise<true> {
    return waitFor(() => this.comments.filter((c) => c === text).length >= count || undefined, { timeoutMs, what });
  }

  /** Waits until an event matches `match`. */
  waitForEvent(match: (event: PublishedEvent) => boolean, what: string, timeoutMs = 20_000): Promise<ReceivedEvent> {
    return waitFor(() => this.events.find((event) => match(event.data)), { timeoutMs, what });
  }

  /** The raw body received so far (for a response that is not an event stream). */
  get body(): string {
    return this.buffer;
  }

  /** Leaves, as a closed browser tab does. */
  close(): void {
    this.request.destroy();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    if (!String(this.response.headers['content-type']).startsWith('text/event-stream')) return;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let sseId: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        const value = (field: string) => line.slice(field.length).replace(/^ /, '');
        if (line.startsWith('data:')) data.push(value('data:'));
        else if (line.startsWith('id:')) sseId = value('id:');
        else if (line.startsWith(':')) {
          this.comments.push(value(':'));
          this.frames.push({ kind: 'comment', text: value(':') });
        } else if (/^retry: ?\d+$/.test(line)) {
          this.retries.push(Number(value('retry:')));
          this.frames.push({ kind: 'retry', ms: Number(value('retry:')) });
        } else if (line !== '') this.other.push(line);
      }
      if (data.length > 0) {
        const event = { sseId, data: JSON.parse(data.join('\n')) as PublishedEvent };
        this.events.push(event);
        this.frames.push({ kind: 'event', event });
      }
    }
  }
}

/** How many processes are subscribed in Redis to the events of `userId` under `prefix`. */
export async function subscribedProcesses(prefix: string, userId: string): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    const [, count] = (await redis.pubsub('NUMSUB', userEventsChannel(prefix, userId))) as [string, number];
    return Number(count);
  } finally {
    redis.disconnect();
  }
}

/** Waits until exactly `count` processes are subscribed to the events of `userId` (so none published from now on is missed). */
export async function waitForSubscribedProcesses(prefix: string, userId: string, count: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await subscribedProcesses(prefix, userId)) === count, {
    timeoutMs,
    what: `${count} process(es) subscribed to the events of ${userId}`,
  });
}
