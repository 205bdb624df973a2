import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { apiReady, startApp, workerReady, type AppProcess } from '../support/processes.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';
import { AUTH_ENV, authHeaders } from '../support/auth.js';
import { createTestSchema, type TestSchema } from '../support/database.js';

// End to end: the built apps/api and apps/worker as child processes, under one TASKS_PREFIX.
describe('apps/api with apps/worker', () => {
  const prefix = uniquePrefix('api');
  let api: AppProcess;
  let worker: AppProcess;
  let base: string;
  // A migrated schema of its own: the worker runs the example's crons, which need cron_job_runs.
  let schema: TestSchema;

  beforeAll(async () => {
    schema = await createTestSchema('api_e2e');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    [api, worker] = await Promise.all([
      startApp('api', { TASKS_PREFIX: prefix, PORT: String(port), ...schema.env, ...AUTH_ENV }, apiReady),
      startApp('worker', { TASKS_PREFIX: prefix, ...schema.env, EXAMPLE_UPLOAD_STEP_MS: '10' }, workerReady),
    ]);
  });

  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    await deletePrefix(prefix);
    await schema?.drop();
  });

  // Every route of the api needs an access token (test/api/auth.spec.ts covers the scheme).
  const headers = authHeaders('alice');
  const post = (path: string) => fetch(`${base}${path}`, { method: 'POST', headers });

  it('POST /uploads/:id/process enqueues and answers 202 with the job id; GET /jobs/:id then reports the result', async () => {
    const response = await post('/uploads/abc123/process');
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    expect(jobId).toEqual(expect.any(String));

    const job = await waitFor(
      async () => {
        const res = await fetch(`${base}/jobs/${jobId}`, { headers });
        const body = (await res.json()) as { state: string };
        return body.state === 'completed' ? body : undefined;
      },
      { what: `job ${jobId} to complete` },
    );
    expect(job).toMatchObject({ id: jobId, name: 'processUpload', state: 'completed', result: { processed: 'abc123' }, progress: 100 });
    // The worker process ran it, not the api.
    await worker.waitForLog((l) => l.jobId === jobId && l.event === 'task.completed', 'task.completed');
    expect(api.lines.some((l) => l.event === 'task.started')).toBe(false);
  });

  it('with ?wait=true answers 200 with the task’s result', async () => {
    const response = await post('/uploads/wait-me/process?wait=true');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ jobId: expect.any(String), result: { processed: 'wait-me' } });
  });

  it.each([
    ['an invalid upload id', '/uploads/not%20valid/process', 'Upload id must be'],
    ['an invalid wait parameter', '/uploads/abc123/process?wait=yes', 'Query parameter "wait" must be "true" or "false"'],
  ])('answers 400 with a clear message to %s', async (_what, path, message) => {
    const response = await post(path);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain(message);
  });

  it('answers 404 for an unknown job id', async () => {
    const response = await fetch(`${base}/jobs/no-such-job`, { headers });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { message: string }).message).toContain('No job with id "no-such-job"');
  });
});
