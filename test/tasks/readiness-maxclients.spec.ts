import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TasksHealthIndicator } from 'nestjs-tasks';
import { AppProcess, apiReady, startApp, workerReady } from '../support/processes.js';
import { createTasksApp } from '../support/in-process.js';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { AUTH_ENV, authHeaders, operatorHeaders } from '../support/auth.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';

interface Health {
  status: string;
  details: Record<string, { status: string; message?: string }>;
}

/** The first line Redis answers a newcomer's PING with: an error when it is at maxclients. */
function greetingOf(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setTimeout(3_000, () => socket.destroy(new Error('Redis kept silent')));
    socket.on('data', (chunk) => {
      received += chunk.toString();
      if (received.includes('\r\n')) socket.end();
    });
    socket.on('close', () => resolve(received));
    // A refused newcomer may see the reset of its PING after the error.
    socket.on('error', (error) => (received ? resolve(received) : reject(error)));
    socket.write('PING\r\n');
  });
}

// The built api and worker on a Redis of the test's own, which the test fills
// up: CONFIG SET maxclients 1 turns every new connection away while the ones
// open keep working (Redis keeps clients over a lowered limit).
describe('readiness while Redis refuses new connections (maxclients)', { timeout: 180_000 }, () => {
  let schema: TestSchema;
  let redis: ExtraRedisServer;
  let admin: Redis;
  let api: AppProcess;
  let worker: AppProcess;
  let apiBase: string;
  let workerProbe: string;

  const probe = async (url: string, headers: Record<string, string> = {}): Promise<{ code: number; body: Health } | undefined> => {
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
      return { code: response.status, body: (await response.json()) as Health };
    } catch {
      return undefined;
    }
  };
  const until = (url: string, code: number, what: string) =>
    waitFor(
      async () => {
        const answer = await probe(url);
        return answer?.code === code ? answer : undefined;
      },
      { timeoutMs: 60_000, what },
    );
  const upload = (id: string, wait: boolean) =>
    fetch(`${apiBase}/uploads/${id}/process${wait ? '?wait=true' : ''}`, {
      method: 'POST',
      headers: authHeaders('alice'),
      signal: AbortSignal.timeout(45_000),
    });

  /** From now on Redis turns every new connection away; those open stay open. */
  const refuseNewConnections = async () => {
    await admin.config('SET', 'maxclients', '1');
    expect(await greetingOf(redis.port)).toContain('max number of clients reached');
  };
  const acceptConnections = () => admin.config('SET', 'maxclients', '10000');
  const rejectedConnections = async () => Number(/^rejected_connections:(\d+)/m.exec(await admin.info('stats'))?.[1]);

  beforeAll(async () => {
    schema = await createTestSchema('maxclients');
    redis = await ExtraRedisServer.start();
    admin = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
    const [apiPort, workerPort] = [await freePort(), await freePort()];
    apiBase = `http://127.0.0.1:${apiPort}`;
    workerProbe = `http://127.0.0.1:${workerPort}/health/ready`;
    const env = { TASKS_PREFIX: 'maxclients', REDIS_URL: redis.url(), ...schema.env };
    [api, worker] = await Promise.all([
      startApp('api', { ...env, PORT: String(apiPort), ...AUTH_ENV }, apiReady),
      startApp('worker', { ...env, TASKS_HEALTH_PORT: String(workerPort), TASKS_SHUTDOWN_GRACE_MS: '1000' }, workerReady),
    ]);
  });

  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    admin?.disconnect();
    await redis?.stop();
    await schema?.drop();
  });

  it('a process whose first probes meet a full Redis is not ready, and is once Redis lets it in (what Redis refused is tried again)', async () => {
    // Neither app was probed yet: the connections their enqueues and waits need are not all open.
    await refuseNewConnections();
    try {
      expect((await until(`${apiBase}/health/ready`, 503, 'the api to be unready')).body.details.redis).toEqual({ status: 'down' });
      await until(workerProbe, 503, 'the worker to be unready');
    } finally {
      await acceptConnections();
    }
    await until(`${apiBase}/health/ready`, 200, 'the api to be ready');
    await until(workerProbe, 200, 'the worker to be ready');
  });

  it('a process whose connections are open stays ready, and truly serves: enqueue, run and wait for the result', async () => {
    // The first probes of a process open what its enqueues and waits use, as an orchestrator's probes do before traffic.
    await until(`${apiBase}/health/ready`, 200, 'the api to be ready');
    await until(workerProbe, 200, 'the worker to be ready');
    await refuseNewConnections();
    try {
      const rejected = await rejectedConnections();
      const response = await upload('full-house', true);
      const text = await response.text();
      expect(response.status, text).toBe(200);
      expect(JSON.parse(text)).toMatchObject({ result: { processed: 'full-house' } });
      for (let i = 0; i < 5; i++) {
        expect((await probe(`${apiBase}/health/ready`))?.code).toBe(200);
        expect((await probe(workerProbe))?.code).toBe(200);
      }
      // Neither the probes nor the request tried a connection of their own.
      expect(await rejectedConnections()).toBe(rejected);
    } finally {
      await acceptConnections();
    }
  });

  it('a process that lost its connections while Redis refuses new ones is not ready (and cannot enqueue); ready again once Redis lets it in', async () => {
    await refuseNewConnections();
    try {
      // Every connection of the api and the worker drops; reconnecting is refused.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      const apiDown = await until(`${apiBase}/health/ready`, 503, 'the api to be unready');
      expect(apiDown.body.details.redis).toEqual({ status: 'down' });
      const workerDown = await until(workerProbe, 503, 'the worker to be unready');
      expect(workerDown.body.details.redis?.status).toBe('down');
      // The operator sees which connection, and why.
      const operator = await probe(`${apiBase}/health/ready`, operatorHeaders());
      expect(operator?.body.details.redis?.message).toMatch(/^the (shared client|queue|result reader)/);
      // Readiness told the truth: an enqueue fails.
      expect((await upload('refused', false)).status).toBeGreaterThanOrEqual(500);
    } finally {
      await acceptConnections();
    }
    await until(`${apiBase}/health/ready`, 200, 'the api to be ready again');
    await until(workerProbe, 200, 'the worker to be ready again');
    const response = await upload('back', true);
    expect(response.status, await response.clone().text()).toBe(200);
  });
});

// In process: what readiness opens must not hold shutdown while Redis refuses it.
describe('closing an app whose readiness opened a result reader, while Redis refuses new connections', () => {
  let redis: ExtraRedisServer;
  let admin: Redis;

  beforeAll(async () => {
    redis = await ExtraRedisServer.start();
    admin = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  it('ends: the reader, which retries Redis forever, is dropped rather than waited for', { timeout: 120_000 }, async () => {
    const app = await createTasksApp({ tasks: { redisUrl: redis.url(), prefix: 'closing' } });
    const health = app.get(TasksHealthIndicator);
    expect(await health.redis('redis', { results: ['default'] })).toEqual({ redis: { status: 'up', prefix: 'closing' } });
    await admin.config('SET', 'maxclients', '1');
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    expect((await health.redis('redis', { results: ['default'] })).redis.status).toBe('down');
    // Commands of the library's other connections give up after their 10 s timeout; the reader has none.
    const closed = await Promise.race([app.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 60_000, 'still closing after 60 s'))]);
    expect(closed).toBe('closed');
  });
});
