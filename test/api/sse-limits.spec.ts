import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userEventsChannel, type PublishedEvent } from 'nestjs-tasks/extras';
import { apiReady, startApp, type AppProcess } from '../support/processes.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { SseClient, waitForSubscribedProcesses } from '../support/sse.js';
import { AUTH_ENV, authHeaders } from '../support/auth.js';
import { waitFor } from '../support/wait-for.js';

const PER_USER = 2;
const PER_PROCESS = 3;

// End to end: the built apps/api with small SSE settings, read by plain HTTP clients.
describe('GET /users/:userId/events on real networks: retry hint, heartbeats, stream limits', () => {
  const prefix = uniquePrefix('sse-limits');
  let api: AppProcess;
  let base: string;
  let redis: Redis;
  const clients: SseClient[] = [];

  const open = async (userId: string) => {
    const client = await SseClient.open(`${base}/users/${userId}/events`, authHeaders(userId));
    clients.push(client);
    return client;
  };
  /** Opens a stream that the api must refuse with 429; returns the reason. */
  const refused = async (userId: string) => {
    const client = await open(userId);
    expect(client.status, `a stream for ${userId}`).toBe(429);
    await client.finished;
    const body = JSON.parse(client.body) as { statusCode: number; message: string };
    expect(body.statusCode).toBe(429);
    return body.message;
  };
  /**
   * Opens a stream for `userId` once the api has noticed a closed one: a client
   * that leaves frees its slot when the api sees the connection close, which
   * is asynchronous, so a refused attempt is retried.
   */
  const openOnceFreed = (userId: string) =>
    waitFor(
      async () => {
        const client = await open(userId);
        if (client.status === 200) return client;
        client.close();
        return undefined;
      },
      { what: `a stream slot for ${userId} to be free again` },
    );

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    redis = new Redis(REDIS_URL);
    api = await startApp(
      'api',
      {
        TASKS_PREFIX: prefix,
        PORT: String(port),
        ...AUTH_ENV,
        SSE_HEARTBEAT_MS: '100',
        SSE_RETRY_MS: '1500',
        SSE_MAX_STREAMS_PER_USER: String(PER_USER),
        SSE_MAX_STREAMS_PER_PROCESS: String(PER_PROCESS),
        // These tests are about the two caps alone (the share is tested below).
        SSE_RESERVED_FIRST_STREAMS: '0',
      },
      apiReady,
    );
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await api?.stop();
    redis?.disconnect();
    await deletePrefix(prefix);
  });

  it('starts with the retry hint, then sends a heartbeat comment every SSE_HEARTBEAT_MS between events', async () => {
    const client = await open('hank');
    expect(client.status).toBe(200);
    expect(client.response.headers['cache-control']).toContain('no-cache');
    // Three heartbeats at 100 ms: nowhere near the 15 s default.
    await client.waitForComments('keep-alive', 3, 'three heartbeats');
    await waitForSubscribedProcesses(prefix, 'hank', 1);
    const event: PublishedEvent = { id: randomUUID(), name: 'test.ping', payload: { n: 1 }, publishedAt: new Date().toISOString() };
    await redis.publish(userEventsChannel(prefix, 'hank'), JSON.stringify(event));
    await client.waitForEvent((e) => e.id === event.id, 'the published event');
    await client.waitForComments('keep-alive', 4, 'a heartbeat after the event');

    expect(client.frames[0]).toEqual({ kind: 'retry', ms: 1500 });
    expect(client.retries).toEqual([1500]);
    expect(new Set(client.comments)).toEqual(new Set(['keep-alive']));
    expect(client.events).toEqual([{ sseId: event.id, data: event }]);
    expect(client.other).toEqual([]);
    client.close();
    await openOnceFreed('hank').then((again) => again.close());
  });

  it(`refuses a user’s stream past SSE_MAX_STREAMS_PER_USER (${PER_USER}) and the process’s past SSE_MAX_STREAMS_PER_PROCESS (${PER_PROCESS}), with 429 and the reason; a freed slot is used again`, async () => {
    // Earlier streams of this file are closed, but the api may not have noticed yet.
    const alice1 = await open('alice');
    const alice2 = await open('alice');
    expect([alice1.status, alice2.status]).toEqual([200, 200]);
    expect(await refused('alice')).toBe(
      `Too many open event streams for user "alice": ${PER_USER} of at most ${PER_USER} (SSE_MAX_STREAMS_PER_USER). ` +
        'Close one (e.g. another browser tab) and reconnect.',
    );

    // Another user still gets one, up to the process's limit.
    const bob = await openOnceFreed('bob');
    expect(await refused('carol')).toBe(
      `This api process serves its maximum of ${PER_PROCESS} event streams (SSE_MAX_STREAMS_PER_PROCESS). Retry later, or on another replica.`,
    );
    // Refused attempts took no slot: still alice's 2 and bob's 1.
    expect(await refused('alice')).toMatch(/^Too many open event streams for user "alice"/);

    // Alice closes a tab: she can open one again (and carol still cannot).
    alice1.close();
    const alice3 = await openOnceFreed('alice');
    expect(await refused('carol')).toMatch(/^This api process serves its maximum/);

    // Bob leaves: now carol gets his slot, and her stream works.
    bob.close();
    const carol = await openOnceFreed('carol');
    await carol.waitForComments('keep-alive', 1, 'a heartbeat on carol’s stream');
    expect([alice2.status, alice3.status, carol.status]).toEqual([200, 200, 200]);
    expect(api.running).toBe(true);
    for (const client of [alice2, alice3, carol]) client.close();
  });
});

// One user with several accounts, or many tabs, must not take every slot of a replica: past
// SSE_MAX_STREAMS_PER_PROCESS - SSE_RESERVED_FIRST_STREAMS open streams, only users without one get a slot.
describe('GET /users/:userId/events: a user’s share of the slots', () => {
  const prefix = uniquePrefix('sse-share');
  let api: AppProcess;
  let base: string;
  const clients: SseClient[] = [];

  const open = async (userId: string) => {
    const client = await SseClient.open(`${base}/users/${userId}/events`, authHeaders(userId));
    clients.push(client);
    return client;
  };
  const refusal = async (client: SseClient) => {
    await client.finished;
    return (JSON.parse(client.body) as { message: string }).message;
  };

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = await startApp(
      'api',
      {
        TASKS_PREFIX: prefix,
        PORT: String(port),
        ...AUTH_ENV,
        SSE_MAX_STREAMS_PER_USER: '4',
        SSE_MAX_STREAMS_PER_PROCESS: '5',
        SSE_RESERVED_FIRST_STREAMS: '3',
      },
      apiReady,
    );
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await api?.stop();
    await deletePrefix(prefix);
  });

  it('keeps SSE_RESERVED_FIRST_STREAMS slots for users without an open stream: a user’s second stream waits for the shared ones', async () => {
    // Two slots are shared (5 - 3): mallory's first stream and her second fill them.
    const mallory = [await open('mallory'), await open('mallory')];
    expect(mallory.map((client) => client.status)).toEqual([200, 200]);
    // A third is within her own cap (4) but would take a reserved slot.
    const third = await open('mallory');
    expect(third.status).toBe(429);
    expect(await refusal(third)).toBe(
      'This api process keeps its last 3 event streams for users without one open (SSE_RESERVED_FIRST_STREAMS); ' +
        'user "mallory" has 2 open. Close one (e.g. another browser tab) and reconnect, or retry later.',
    );
    // Every other user still gets their first stream, up to the process's limit.
    const firsts = [await open('alice'), await open('bob'), await open('carol')];
    expect(firsts.map((client) => client.status)).toEqual([200, 200, 200]);
    const dave = await open('dave');
    expect(dave.status).toBe(429);
    expect(await refusal(dave)).toMatch(/^This api process serves its maximum of 5 event streams/);
    // Nor does alice's second stream take a reserved slot.
    const aliceAgain = await open('alice');
    expect(aliceAgain.status).toBe(429);
    expect(await refusal(aliceAgain)).toMatch(/^This api process serves its maximum of 5 event streams/);
    expect(api.running).toBe(true);
  });
});
