import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { EMAILS_QUEUE, type WelcomeEmail, type WelcomeEmailSent } from '@app/jobs';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { apiReady, startApp, workerReady, type AppProcess } from '../support/processes.js';
import { schedulerReady } from '../support/cron.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';
import { AUTH_ENV, authHeaders } from '../support/auth.js';
import { createTestSchema, type TestSchema } from '../support/database.js';

// The three example apps side by side, as deployed: the api adds jobs to the app's own
// BullMQ queue `emails`, and only the worker process consumes it (its @Processor class is
// in the worker's root module alone), while all three share the task library's setup.
describe('api, worker and scheduler, each composed of the shared modules and its own', () => {
  const prefix = uniquePrefix('composition');
  let schema: TestSchema;
  let api: AppProcess;
  let worker: AppProcess;
  let scheduler: AppProcess;
  let base: string;
  let emails: Queue<WelcomeEmail, WelcomeEmailSent>;

  beforeAll(async () => {
    schema = await createTestSchema('composition');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = { TASKS_PREFIX: prefix, ...schema.env };
    [api, worker, scheduler] = await Promise.all([
      startApp('api', { ...env, PORT: String(port), ...AUTH_ENV }, apiReady),
      startApp('worker', { ...env, EXAMPLE_UPLOAD_STEP_MS: '10' }, workerReady),
      startApp('scheduler', env, schedulerReady),
    ]);
    // The queue as the apps see it: under TASKS_PREFIX, so this test's keys are its own.
    emails = new Queue(EMAILS_QUEUE, { connection: { url: REDIS_URL }, prefix });
  });

  afterAll(async () => {
    await emails?.close();
    await Promise.all([api?.stop(), worker?.stop(), scheduler?.stop()]);
    await deletePrefix(prefix);
    await schema?.drop();
  });

  const headers = authHeaders('alice');
  const workerName = () => `${hostname()}:${worker.pid}`;

  it('has exactly one consumer of the emails queue: the worker process', async () => {
    // A worker registers its Redis connection name shortly after boot.
    const consumers = await waitFor(async () => {
      const found = await emails.getWorkers();
      return found.length > 0 ? found : undefined;
    }, { what: 'a consumer of the emails queue' });
    expect(consumers.map((client) => client.rawname)).toEqual([expect.stringMatching(new RegExp(`:w:${escape(workerName())}$`))]);
  });

  it('runs every email the api enqueued in the worker process, none in the api or the scheduler', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      const response = await fetch(`${base}/emails/welcome`, { method: 'POST', headers });
      expect(response.status, await response.clone().text()).toBe(202);
      ids.push(((await response.json()) as { jobId: string }).jobId);
    }
    for (const id of ids) {
      const job = await waitFor(async () => {
        const found = await emails.getJob(id);
        return found && (await found.getState()) === 'completed' ? found : undefined;
      }, { what: `email job ${id} to complete` });
      expect(job.data).toEqual({ userId: 'alice' });
      expect(job.returnvalue).toEqual({ sentTo: 'alice', template: 'welcome' });
      expect(job.processedBy).toBe(workerName());
    }
    expect(await emails.getWorkers()).toHaveLength(1);
    await worker.waitForLog((l) => l.context === 'EmailsProcessor' && l.jobId === ids[0], 'the email’s log line');
    for (const other of [api, scheduler]) expect(other.lines.filter((l) => l.context === 'EmailsProcessor')).toEqual([]);
  });

  it('still runs the library’s tasks in the same worker, next to the app’s own processor', async () => {
    const response = await fetch(`${base}/uploads/composed/process?wait=true`, { method: 'POST', headers });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ jobId: expect.any(String), result: { processed: 'composed' } });
  });

  it('answers 401 without a token, as every other route', async () => {
    const response = await fetch(`${base}/emails/welcome`, { method: 'POST' });
    expect(response.status).toBe(401);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
