import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, ENTRY, apiReady, workerReady, type LogLine } from '../support/processes.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { SseClient, waitForSubscribedProcesses } from '../support/sse.js';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { AUTH_ENV, authHeaders } from '../support/auth.js';

/** What processUpload publishes to its user, in order. */
function uploadEvents(uploadId: string) {
  return [
    { name: 'upload.started', payload: { uploadId } },
    ...[20, 40, 60, 80, 100].map((percent) => ({ name: 'upload.progress', payload: { uploadId, percent } })),
    { name: 'upload.completed', payload: { uploadId, processed: uploadId } },
  ];
}

const completed = (uploadId: string) => (event: { name: string; payload: unknown }) =>
  event.name === 'upload.completed' && (event.payload as { uploadId: string }).uploadId === uploadId;

// End to end: the built apps/worker and two replicas of apps/api as child
// processes; browsers stand in as plain HTTP clients reading the SSE streams.
describe('GET /users/:userId/events: task events over Server-Sent Events, from any api replica', () => {
  const prefix = uniquePrefix('sse');
  let schema: TestSchema;
  let api2: AppProcess;
  let base1: string;
  let base2: string;
  const clients: SseClient[] = [];
  /** Every process started, so afterAll stops them even if another one failed to boot. */
  const started: AppProcess[] = [];

  const start = async (kind: keyof typeof ENTRY, env: Record<string, string>, ready: (line: LogLine) => boolean, name: string) => {
    const app = new AppProcess(name, ENTRY[kind], env);
    started.push(app);
    await app.waitForLog(ready, 'ready', 60_000);
    return app;
  };

  // Each client authenticates as the user whose stream it reads (`as` only for the invalid-id case).
  const connect = async (base: string, userId: string, as = userId) => {
    const client = await SseClient.open(`${base}/users/${userId}/events`, authHeaders(as));
    clients.push(client);
    return client;
  };
  const processUpload = async (base: string, uploadId: string, userId: string) => {
    const response = await fetch(`${base}/uploads/${uploadId}/process?wait=true&userId=${userId}`, {
      method: 'POST',
      headers: authHeaders(userId),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ jobId: expect.any(String), result: { processed: uploadId } });
  };

  beforeAll(async () => {
    schema = await createTestSchema('sse');
    const [port1, port2] = await Promise.all([freePort(), freePort()]);
    base1 = `http://127.0.0.1:${port1}`;
    base2 = `http://127.0.0.1:${port2}`;
    const env = { TASKS_PREFIX: prefix, ...schema.env, ...AUTH_ENV };
    [, , api2] = await Promise.all([
      start('worker', { ...env, EXAMPLE_UPLOAD_STEP_MS: '10' }, workerReady, 'worker'),
      start('api', { ...env, PORT: String(port1) }, apiReady, 'api-1'),
      start('api', { ...env, PORT: String(port2) }, apiReady, 'api-2'),
    ]);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(started.map((app) => app.stop()));
    await deletePrefix(prefix);
    await schema?.drop();
  });

  it('streams the events a worker publishes for a user, in order, to that user only, from both replicas', async () => {
    const alice1 = await connect(base1, 'alice');
    const aliceAgain1 = await connect(base1, 'alice');
    const alice2 = await connect(base2, 'alice');
    const bob1 = await connect(base1, 'bob');
    for (const client of [alice1, aliceAgain1, alice2, bob1]) {
      expect(client.status).toBe(200);
      expect(client.response.headers['content-type']).toMatch(/^text\/event-stream/);
    }
    // Each replica subscribes once per user, however many of the user's clients it serves.
    await waitForSubscribedProcesses(prefix, 'alice', 2);
    await waitForSubscribedProcesses(prefix, 'bob', 1);

    // Alternate users, so each user's stream has the other's events published in between.
    await processUpload(base1, 'up-a1', 'alice');
    await processUpload(base2, 'up-b1', 'bob');
    await processUpload(base2, 'up-a2', 'alice');
    await processUpload(base1, 'up-b2', 'bob');

    await Promise.all([
      alice1.waitForEvent(completed('up-a2'), 'alice on api-1: up-a2 completed'),
      aliceAgain1.waitForEvent(completed('up-a2'), 'alice again on api-1: up-a2 completed'),
      alice2.waitForEvent(completed('up-a2'), 'alice on api-2: up-a2 completed'),
      bob1.waitForEvent(completed('up-b2'), 'bob on api-1: up-b2 completed'),
    ]);

    // In order, and nothing of bob's (up-b1 was published before up-a2, so a leak would be in here).
    expect(alice1.received).toEqual([...uploadEvents('up-a1'), ...uploadEvents('up-a2')]);
    // The other replica and the second client deliver the very same events (same ids).
    expect(alice2.events).toEqual(alice1.events);
    expect(aliceAgain1.events).toEqual(alice1.events);
    // Bob only got his own (up-a1 and up-a2 came before up-b2 on api-1's one subscription).
    expect(bob1.received).toEqual([...uploadEvents('up-b1'), ...uploadEvents('up-b2')]);
    // The SSE id is the event's id; nothing but events on the wire.
    for (const client of [alice1, bob1]) {
      for (const event of client.events) expect(event.sseId).toBe(event.data.id);
      expect(client.other).toEqual([]);
    }
    expect(new Set(alice1.events.map((e) => e.data.id)).size).toBe(alice1.events.length);
  });

  it('drops a replica’s Redis subscription once the user’s last client on it disconnects', async () => {
    const carol1 = await connect(base1, 'carol');
    const carolAgain1 = await connect(base1, 'carol');
    const carol2 = await connect(base2, 'carol');
    await waitForSubscribedProcesses(prefix, 'carol', 2);

    carol1.close();
    // api-1 still has a client of carol's.
    await processUpload(base1, 'up-c1', 'carol');
    await carolAgain1.waitForEvent(completed('up-c1'), 'carol’s remaining client on api-1');
    await carol2.waitForEvent(completed('up-c1'), 'carol on api-2');

    carolAgain1.close();
    await waitForSubscribedProcesses(prefix, 'carol', 1);
    carol2.close();
    await waitForSubscribedProcesses(prefix, 'carol', 0);
  });

  it('answers 400 with a clear message to an invalid user id, on the stream and on POST /uploads/:id/process', async () => {
    const stream = await connect(base1, 'not%20valid', 'alice');
    expect(stream.status).toBe(400);
    await stream.finished;
    expect(JSON.parse(stream.body)).toMatchObject({
      statusCode: 400,
      message: 'User id must be 1-64 characters of letters, digits, "-" or "_".',
    });

    const upload = await fetch(`${base1}/uploads/up-x/process?userId=not%20valid`, { method: 'POST', headers: authHeaders('alice') });
    expect(upload.status).toBe(400);
    expect(await upload.json()).toMatchObject({
      message: 'Query parameter "userId" must be 1-64 characters of letters, digits, "-" or "_".',
    });
    const twice = await fetch(`${base1}/uploads/up-x/process?userId=a&userId=b`, { method: 'POST', headers: authHeaders('a') });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ message: 'Query parameter "userId" must be given once.' });
  });

  it('ends the streams cleanly when a replica shuts down, so clients reconnect elsewhere', async () => {
    const dave2 = await connect(base2, 'dave');
    await waitForSubscribedProcesses(prefix, 'dave', 1);
    const exited = api2.stop();
    // Ended by the server (a clean end of the chunked response), not cut off.
    await expect(dave2.finished).resolves.toBe('end');
    await exited;
    expect(api2.lines.some((line) => line.level >= 50)).toBe(false);
    await waitForSubscribedProcesses(prefix, 'dave', 0);
  });
});
