import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, apiReady, startApp, workerReady, type AppProcess } from '../support/processes.js';
import { schedulerReady } from '../support/cron.js';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { AUTH_ENV, authHeaders } from '../support/auth.js';
import { freePort } from '../support/ports.js';
import { clientList, clientsOf } from '../support/redis-clients.js';
import { SseClient } from '../support/sse.js';
import { waitFor } from '../support/wait-for.js';

const PREFIX = 'conn';
const library = (role: string) => `${PREFIX}:tasks:${role}`;
/** The names BullMQ gives a Worker's blocking connection and a result reader: the queue's name in base64. */
const blocking = (bullQueue: string) => `${PREFIX}:${Buffer.from(bullQueue).toString('base64')}`;
const reader = (bullQueue: string) => `${blocking(bullQueue)}:qe`;
/** The example's own BullMQ connections (libs/jobs appBullOptions). */
const own = `${PREFIX}:app:bullmq`;
const workerPair = (queue: string) => [library(`worker:${queue}`), blocking(`tasks.${queue}`)];

/** The totals of the table of docs/operating.md that counts the example apps' connections, by process. */
function documentedTotals(): Record<string, number> {
  const doc = readFileSync(join(ROOT, 'docs/operating.md'), 'utf8');
  const table = doc.slice(doc.indexOf('| process | connections of the library'));
  const lines = table.split('\n');
  const rows = lines.slice(2, lines.findIndex((line) => !line.startsWith('|')));
  return Object.fromEntries(rows.map((row) => row.split('|').map((cell) => cell.trim())).map((cells) => [cells[1], Number(cells[4])]));
}

// The built api, worker and scheduler on a Redis of the test's own, so that
// CLIENT LIST holds their connections and nothing else; each process's are
// told apart by the local ports of its sockets (Linux /proc).
describe.skipIf(process.platform !== 'linux')('Redis connections of each example process', { timeout: 180_000 }, () => {
  let schema: TestSchema;
  let redis: ExtraRedisServer;
  let admin: Redis;
  let api: AppProcess;
  let worker: AppProcess;
  let scheduler: AppProcess;
  let apiBase: string;
  let probes: string[];
  const streams: SseClient[] = [];

  beforeAll(async () => {
    schema = await createTestSchema('connections');
    redis = await ExtraRedisServer.start();
    admin = new Redis({ host: '127.0.0.1', port: redis.port, connectionName: 'test-admin' });
    const [apiPort, workerPort, schedulerPort] = [await freePort(), await freePort(), await freePort()];
    apiBase = `http://127.0.0.1:${apiPort}`;
    probes = [`${apiBase}/health/ready`, `http://127.0.0.1:${workerPort}/health/ready`, `http://127.0.0.1:${schedulerPort}/health/ready`];
    const env = { TASKS_PREFIX: PREFIX, REDIS_URL: redis.url(), ...schema.env };
    [api, worker, scheduler] = await Promise.all([
      startApp('api', { ...env, PORT: String(apiPort), ...AUTH_ENV }, apiReady),
      startApp('worker', { ...env, TASKS_HEALTH_PORT: String(workerPort), EXAMPLE_UPLOAD_STEP_MS: '10' }, workerReady),
      startApp('scheduler', { ...env, TASKS_HEALTH_PORT: String(schedulerPort) }, schedulerReady),
    ]);
  });

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await Promise.all([api?.stop(), worker?.stop(), scheduler?.stop()]);
    admin?.disconnect();
    await redis?.stop();
    await schema?.drop();
  });

  /** The names of the connections `app` holds, sorted, once they are `expected` (connections name themselves as they connect). */
  const namesOf = async (app: AppProcess, expected: readonly string[]): Promise<string[]> => {
    const want = [...expected].sort();
    let names: string[] = [];
    await waitFor(
      async () => {
        names = (await clientsOf(admin, app.pid, redis.port)).map((client) => client.name).sort();
        return JSON.stringify(names) === JSON.stringify(want);
      },
      { what: `the connections of the ${app.name}`, timeoutMs: 10_000 },
    ).catch(() => undefined);
    return names;
  };

  const expected = {
    api: [library('command'), library('fail-fast'), library('app'), reader('tasks.default'), own],
    // The worker's own emails Worker is named after its host and pid (apps/worker's EmailsProcessor).
    worker: (): string[] => [
      library('command'),
      library('fail-fast'),
      library('subscriber'),
      library('app'),
      ...workerPair('default'),
      ...workerPair('reports'),
      ...workerPair('cron'),
      own,
      own,
      `${blocking('emails')}:w:${hostname()}:${worker.pid}`,
    ],
    scheduler: [library('command'), library('fail-fast'), library('app')],
  };

  it('after boot and a readiness probe: each connection named, as many per process as docs/operating.md says, and nobody else’s', async () => {
    for (const probe of probes) expect((await fetch(probe)).status, probe).toBe(200);
    const found = {
      api: await namesOf(api, expected.api),
      worker: await namesOf(worker, expected.worker()),
      scheduler: await namesOf(scheduler, expected.scheduler),
    };
    expect(found).toEqual({ api: [...expected.api].sort(), worker: expected.worker().sort(), scheduler: [...expected.scheduler].sort() });
    expect(documentedTotals()).toEqual({ api: found.api.length, worker: found.worker.length, scheduler: found.scheduler.length });
    // Every connection Redis has is one of these processes' (or the test's own).
    const all = await clientList(admin);
    expect(all.map((client) => client.name).sort()).toEqual([...found.api, ...found.worker, ...found.scheduler, 'test-admin'].sort());
  });

  it('serving adds only the api’s subscriber: events streamed, a task run and its result waited for, on the connections already open', async () => {
    const stream = await SseClient.open(`${apiBase}/users/alice/events`, authHeaders('alice'));
    streams.push(stream);
    const response = await fetch(`${apiBase}/uploads/counted/process?wait=true&userId=alice`, { method: 'POST', headers: authHeaders('alice') });
    expect(response.status, await response.clone().text()).toBe(200);
    await waitFor(() => stream.events.some((event) => event.data.name === 'upload.completed'), { what: 'the upload’s last event' });
    expect(await namesOf(api, [...expected.api, library('subscriber')])).toEqual([...expected.api, library('subscriber')].sort());
    expect(await namesOf(worker, expected.worker())).toEqual(expected.worker().sort());
    expect(await namesOf(scheduler, expected.scheduler)).toEqual([...expected.scheduler].sort());
  });
});
