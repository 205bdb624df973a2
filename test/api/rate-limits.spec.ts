import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRedisKeyPrefix } from 'nestjs-tasks/extras';
import { apiReady, startApp, workerReady, type AppProcess } from '../support/processes.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { AUTH_ENV, authHeaders, operatorHeaders } from '../support/auth.js';
import { waitFor } from '../support/wait-for.js';

const ENQUEUE_LIMIT = 5;
const TRIGGER_LIMIT = 3;
// Long enough that no window ends while the test runs, however slow the machine.
const WINDOW_MS = 600_000;
/** How long the library keeps a completed job by default (keepCompleted), in seconds. */
const COMPLETED_RETENTION_S = 3_600;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { jobId?: string; result?: { processed: string }; message?: string };
}

// End to end: two replicas of the built api on one Redis (as behind kamal-proxy), and a worker.
describe('apps/api per-user limits: one user’s flood does not starve the others', () => {
  const prefix = uniquePrefix('rate-limits');
  let schema: TestSchema;
  let apis: AppProcess[] = [];
  let bases: string[] = [];
  let worker: AppProcess;
  let redis: Redis;

  const call = async (base: string, path: string, headers: Record<string, string>): Promise<Answer> => {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Answer['body'] };
  };
  const count = (answers: Answer[], status: number) => answers.filter((answer) => answer.status === status).length;
  /** Every 429 says when to come back (seconds, within the window) and which limit it was. */
  const expectRefusals = (answers: Answer[], message: RegExp) => {
    for (const answer of answers.filter((a) => a.status === 429)) {
      expect(answer.retryAfter).toMatch(/^\d+$/);
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(answer.retryAfter)).toBeLessThanOrEqual(WINDOW_MS / 1_000);
      expect(answer.body.message).toMatch(message);
    }
  };

  beforeAll(async () => {
    schema = await createTestSchema('rate_limits');
    redis = new Redis(REDIS_URL);
    const env = {
      TASKS_PREFIX: prefix,
      ...schema.env,
      ...AUTH_ENV,
      RATE_LIMIT_ENQUEUE: String(ENQUEUE_LIMIT),
      RATE_LIMIT_CRON_TRIGGER: String(TRIGGER_LIMIT),
      RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
    };
    const ports = [await freePort(), await freePort()];
    bases = ports.map((port) => `http://127.0.0.1:${port}`);
    [worker, ...apis] = await Promise.all([
      startApp('worker', { TASKS_PREFIX: prefix, ...schema.env, EXAMPLE_UPLOAD_STEP_MS: '1' }, workerReady),
      ...ports.map((port, i) => startApp('api', { ...env, PORT: String(port) }, apiReady, `api-${i}`)),
    ]);
  });

  afterAll(async () => {
    await Promise.all([...apis.map((api) => api.stop()), worker?.stop()]);
    redis?.disconnect();
    await deletePrefix(prefix);
    await schema?.drop();
  });

  it(`lets a user enqueue ${ENQUEUE_LIMIT} jobs per window across both replicas, then answers 429 with Retry-After; another user’s ?wait=true requests are all served`, async () => {
    const flood = await Promise.all(
      Array.from({ length: 24 }, (_, i) => call(bases[i % 2] as string, `/uploads/flood-${i}/process`, authHeaders('mallory'))),
    );
    expect(count(flood, 202)).toBe(ENQUEUE_LIMIT);
    expect(count(flood, 429)).toBe(24 - ENQUEUE_LIMIT);
    const enqueueLimit = new RegExp(
      `^Too many requests from user "mallory" to enqueue tasks: at most ${ENQUEUE_LIMIT} per ${WINDOW_MS / 1_000} s ` +
        '\\(RATE_LIMIT_ENQUEUE, RATE_LIMIT_WINDOW_MS\\)\\. Try again in \\d+ s\\.$',
    );
    expectRefusals(flood, enqueueLimit);
    // The app's own queue (welcome emails) draws on the same budget.
    const email = await call(bases[0] as string, '/emails/welcome', authHeaders('mallory'));
    expect(email.status).toBe(429);
    expectRefusals([email], enqueueLimit);

    // Meanwhile alice, on either replica, waits for her results as usual.
    const alice: Answer[] = [];
    for (let i = 0; i < 4; i++) alice.push(await call(bases[i % 2] as string, `/uploads/alice-${i}/process?wait=true`, authHeaders('alice')));
    expect(alice.map((answer) => [answer.status, answer.body.result?.processed])).toEqual(
      Array.from({ length: 4 }, (_, i) => [200, `alice-${i}`]),
    );
    // Still refused for mallory: the window has not ended.
    expect((await call(bases[1] as string, '/uploads/flood-again/process', authHeaders('mallory'))).status).toBe(429);
  });

  it(`lets an operator trigger crons ${TRIGGER_LIMIT} times per window, then 429 with Retry-After; another operator still can`, async () => {
    const triggers: Answer[] = [];
    for (let i = 0; i < TRIGGER_LIMIT + 2; i++) {
      triggers.push(await call(bases[i % 2] as string, '/cron/cleanupExpiredData/trigger', operatorHeaders('ops-eager')));
    }
    expect(triggers.map((answer) => answer.status)).toEqual([...Array<number>(TRIGGER_LIMIT).fill(202), 429, 429]);
    expectRefusals(
      triggers,
      new RegExp(
        `^Too many requests from user "ops-eager" to trigger cron jobs: at most ${TRIGGER_LIMIT} per ${WINDOW_MS / 1_000} s ` +
          '\\(RATE_LIMIT_CRON_TRIGGER, RATE_LIMIT_WINDOW_MS\\)\\. Try again in \\d+ s\\.$',
      ),
    );
    // Triggers and enqueues are separate budgets, and each user has their own.
    expect((await call(bases[0] as string, '/cron/cleanupExpiredData/trigger', operatorHeaders('ops-calm'))).status).toBe(202);
    expect((await call(bases[0] as string, '/uploads/ops-upload/process', operatorHeaders('ops-eager'))).status).toBe(202);
  });

  it('keeps the record of who owns a job only as long as the job: a completed job’s goes with its retention (1 hour), not after 7 days', async () => {
    const done = await call(bases[0] as string, '/uploads/ttl-done/process?wait=true', authHeaders('carol'));
    expect(done.status).toBe(200);
    const key = `${appRedisKeyPrefix(prefix)}job-owner:${done.body.jobId as string}`;
    expect(await redis.get(key)).toBe('carol');
    const ttl = await waitFor(
      async () => {
        const seconds = await redis.ttl(key);
        return seconds > 0 && seconds <= COMPLETED_RETENTION_S ? seconds : undefined;
      },
      { what: `the owner record of job ${done.body.jobId as string} to expire with the job's retention` },
    );
    expect(ttl).toBeGreaterThan(COMPLETED_RETENTION_S - 120);
    // The record still guards the job while it lives.
    const own = await fetch(`${bases[1] as string}/jobs/${done.body.jobId as string}`, { headers: authHeaders('carol') });
    expect(own.status).toBe(200);
    const other = await fetch(`${bases[1] as string}/jobs/${done.body.jobId as string}`, { headers: authHeaders('mallory') });
    expect(other.status).toBe(404);
  });
});
