import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, apiReady, startApp } from '../support/processes.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../support/database.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { AUTH_ENV, authHeaders, operatorHeaders } from '../support/auth.js';
import { waitFor } from '../support/wait-for.js';

interface Health {
  status: string;
  details: Record<string, { status: string; message?: string }>;
}

// The built apps/api on a Redis of its own (stopped and restarted by the test,
// with a password) and Postgres through a proxy the test cuts.
describe('apps/api health probes', () => {
  const prefix = uniquePrefix('api-health');
  const password = 'health-probe-secret-7f3a';
  let schema: TestSchema;
  let redis: ExtraRedisServer;
  let postgres: TcpProxy;
  let api: AppProcess;
  let base: string;

  const probe = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, { headers });
    return { code: response.status, body: (await response.json()) as Health };
  };
  /** What an anonymous answer must not show: the prefix, an address or port of a backend, or a driver's error. */
  const expectNothingToUse = (body: Health) => {
    const text = JSON.stringify(body);
    expect(text).not.toContain(prefix);
    expect(text).not.toContain(password);
    expect(text).not.toMatch(/\b\d{1,3}(?:\.\d{1,3}){3}\b|localhost|::1/);
    expect(text).not.toContain(String(postgres.port));
    expect(text).not.toContain(String(redis.port));
    expect(text).not.toMatch(/ECONNREFUSED|connect|timeout|refused/i);
    for (const check of Object.values(body.details)) expect(Object.keys(check)).toEqual(['status']);
  };
  /** Polls a probe until it answers `code`; returns that answer. */
  const until = (path: string, code: number, what: string) =>
    waitFor(
      async () => {
        const answer = await probe(path);
        return answer.code === code ? answer : undefined;
      },
      { timeoutMs: 20_000, what },
    );

  beforeAll(async () => {
    schema = await createTestSchema('api_health');
    redis = await ExtraRedisServer.start({ password });
    const target = new URL(TEST_DATABASE_URL);
    postgres = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    const throughProxy = new URL(TEST_DATABASE_URL);
    throughProxy.host = `127.0.0.1:${postgres.port}`;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = await startApp(
      'api',
      { TASKS_PREFIX: prefix, PORT: String(port), ...schema.env, DATABASE_URL: throughProxy.toString(), REDIS_URL: redis.url(), ...AUTH_ENV },
      apiReady,
    );
  });

  afterAll(async () => {
    await api?.stop();
    await postgres?.close();
    await redis?.stop();
    await deletePrefix(prefix);
    await schema?.drop();
  });

  it('answers without a token: live, ready and /up are 200 while Redis and Postgres answer, with up/down per check only', async () => {
    expect(await probe('/health/live')).toEqual({ code: 200, body: { status: 'ok' } });
    for (const path of ['/health/ready', '/up']) {
      const { code, body } = await probe(path);
      expect(code, path).toBe(200);
      expect(body).toEqual({
        status: 'ok',
        info: { redis: { status: 'up' }, database: { status: 'up' } },
        error: {},
        details: { redis: { status: 'up' }, database: { status: 'up' } },
      });
      // A user's token is no operator's: the same answer.
      expect(await probe(path, authHeaders('alice'))).toEqual({ code: 200, body });
      // An operator sees what the checks found.
      const operator = await probe(path, operatorHeaders());
      expect(operator.code).toBe(200);
      expect(operator.body.details).toEqual({ redis: { status: 'up', prefix }, database: { status: 'up' } });
    }
  });

  it('readiness fails while Redis is down and recovers when it is back; liveness stays up; no password in the answer', async () => {
    await redis.kill();
    const down = await until('/health/ready', 503, 'readiness to fail without Redis');
    expect(down.body.status).toBe('error');
    expect(down.body.details).toEqual({ redis: { status: 'down' }, database: { status: 'up' } });
    expectNothingToUse(down.body);
    const operator = await probe('/health/ready', operatorHeaders());
    expect(operator.code).toBe(503);
    expect(operator.body.details.redis.message).toEqual(expect.any(String));
    expect(JSON.stringify(operator.body)).not.toContain(password);
    expect((await probe('/up')).code).toBe(503);
    expect((await probe('/health/live')).code).toBe(200);

    await redis.start();
    const up = await until('/health/ready', 200, 'readiness to recover with Redis');
    expect(up.body.details.redis.status).toBe('up');
    expect(api.output.join('\n')).not.toContain(password);
  });

  it('readiness fails while Postgres is unreachable, naming no address but to an operator, and recovers when it is back', async () => {
    await postgres.cut();
    const down = await until('/health/ready', 503, 'readiness to fail without Postgres');
    expect(down.body.details).toEqual({ redis: { status: 'up' }, database: { status: 'down' } });
    expectNothingToUse(down.body);
    const up = await probe('/up');
    expect(up.code).toBe(503);
    expectNothingToUse(up.body);
    // The operator gets the cause: the address the api could not reach.
    const operator = await probe('/up', operatorHeaders());
    expect(operator.code).toBe(503);
    expect(operator.body.details.database.message).toContain(`127.0.0.1:${postgres.port}`);
    expect(operator.body.details.redis).toEqual({ status: 'up', prefix });
    expect((await probe('/health/live')).code).toBe(200);
    await postgres.restore();
    await until('/health/ready', 200, 'readiness to recover with Postgres');
  });
});
