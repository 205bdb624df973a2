import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { TASKS_QUEUE } from '#nestjs-tasks-internal';
import { AppProcess, apiReady, startApp } from '../support/processes.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { AUTH_ENV, authHeaders, operatorHeaders } from '../support/auth.js';
import { delta, scrape, valueOf } from '../support/metrics.js';

// The built apps/api: GET /metrics for operators and for Prometheus' static token, never for anyone else.
describe('apps/api GET /metrics', () => {
  const prefix = uniquePrefix('api-metrics');
  const metricsToken = randomBytes(32).toString('hex');
  let schema: TestSchema;
  let api: AppProcess;
  let base: string;

  beforeAll(async () => {
    schema = await createTestSchema('api_metrics');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = await startApp('api', { TASKS_PREFIX: prefix, PORT: String(port), ...schema.env, ...AUTH_ENV, METRICS_TOKEN: metricsToken }, apiReady);
  });

  afterAll(async () => {
    await api?.stop();
    await deletePrefix(prefix);
    await schema?.drop();
  });

  it('answers 401 without a token or with a wrong one, 403 to a user token', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${metricsToken.slice(1)}x` } })).status).toBe(401);
    const user = await fetch(`${base}/metrics`, { headers: authHeaders('alice') });
    expect(user.status).toBe(403);
    expect(await user.text()).not.toContain('tasks_');
  });

  it('serves the text format to an operator and to the scrape token, counting what the api enqueued', async () => {
    const before = await scrape(`${base}/metrics`, operatorHeaders());
    for (const n of [1, 2, 3]) {
      const response = await fetch(`${base}/uploads/upload${n}/process`, { method: 'POST', headers: authHeaders('alice') });
      expect(response.status, await response.clone().text()).toBe(202);
    }
    const after = await scrape(`${base}/metrics`, { authorization: `Bearer ${metricsToken}` });
    expect(delta(before, after, 'tasks_enqueued_total', { task: 'processUpload', queue: TASKS_QUEUE })).toBe(3);
    expect(valueOf(after, 'tasks_queue_jobs', { queue: TASKS_QUEUE, state: 'waiting' })).toBeGreaterThanOrEqual(0);
  });
});
