import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { TEST_DATABASE_URL, dropSchema } from '../support/database.js';
import { AppProcess, ENTRY, ROOT, apiReady, workerReady, type LogLine } from '../support/processes.js';
import { freePort } from '../support/ports.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { schedulerReady } from '../support/cron.js';
import { waitFor } from '../support/wait-for.js';
import { AUTH_ENV, operatorHeaders } from '../support/auth.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

const MIGRATE_ENTRY = resolve(ROOT, 'dist/apps/migrate/main.js');

interface CleanupRun {
  id: string;
  status: string;
  trigger: string;
  result: unknown;
}

// The example apps as built (apps/migrate, worker, scheduler, api) in a schema and prefix of their own.
describe('the example cron job cleanupExpiredData', PROCESS_TIMEOUT, () => {
  const processes: AppProcess[] = [];
  let cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((app) => app.stop()));
    for (const step of cleanup.reverse()) await step();
    cleanup = [];
  });

  async function start(name: string, entry: string, env: Record<string, string>, ready: (line: LogLine) => boolean) {
    const app = new AppProcess(name, entry, env);
    processes.push(app);
    await app.waitForLog(ready, 'ready', 60_000);
    return app;
  }

  it('runs in the worker when the scheduler fires it and appears in cron_job_runs as COMPLETED with { deletedCount }', async () => {
    const schema = `test_example_${randomBytes(4).toString('hex')}`;
    const prefix = uniquePrefix('example-cron');
    cleanup.push(
      () => deletePrefix(prefix),
      () => dropSchema(schema),
    );
    const port = await freePort();
    const env = {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      TASKS_PREFIX: prefix,
      TASKS_SHUTDOWN_GRACE_MS: '1000',
      // Every second instead of every 5 minutes.
      EXAMPLE_CLEANUP_CRON: '* * * * * *',
      PORT: String(port),
      ...AUTH_ENV,
    };

    const migrate = new AppProcess('migrate', MIGRATE_ENTRY, env);
    processes.push(migrate);
    expect(await migrate.exited, migrate.tail()).toBe(0);
    expect(migrate.output.join('\n')).toMatch(/Applied \d+ migration/);

    const db = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    await db.connect();
    cleanup.push(() => db.end());
    await db.query(
      `INSERT INTO expiring_records (payload, expires_at) VALUES ('expired', now() - interval '1 hour'), ('fresh', now() + interval '1 day')`,
    );

    await Promise.all([
      start('worker', ENTRY.worker, env, workerReady),
      start('scheduler', ENTRY.scheduler, env, schedulerReady),
      start('api', ENTRY.api, env, apiReady),
    ]);

    const completed = await waitFor(
      async () => {
        const { rows } = await db.query<CleanupRun>(
          `SELECT id, status, trigger, result FROM cron_job_runs
            WHERE job_name = 'cleanupExpiredData' AND status = 'COMPLETED' AND result = '{"deletedCount": 1}'::jsonb`,
        );
        return rows[0];
      },
      {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: 'a COMPLETED cleanupExpiredData run that deleted the expired record',
      },
    );
    expect(completed).toMatchObject({ trigger: 'schedule', result: { deletedCount: 1 } });
    const { rows: left } = await db.query<{ payload: string }>('SELECT payload FROM expiring_records');
    expect(left).toEqual([{ payload: 'fresh' }]);

    // The api reads the same table.
    const response = await fetch(
      `http://127.0.0.1:${port}/cron/runs?job=cleanupExpiredData&status=COMPLETED&limit=500`,
      // Cron runs are for operators only.
      { headers: operatorHeaders() },
    );
    expect(response.status).toBe(200);
    const listed = (await response.json()) as Array<{ id: string; jobName: string; result: unknown }>;
    expect(listed).toContainEqual(
      expect.objectContaining({ id: completed.id, jobName: 'cleanupExpiredData', result: { deletedCount: 1 } }),
    );

    // And triggers it now: a run recorded with trigger "manual".
    const trigger = await fetch(`http://127.0.0.1:${port}/cron/cleanupExpiredData/trigger`, {
      method: 'POST',
      headers: operatorHeaders(),
    });
    expect(trigger.status).toBe(202);
    await waitFor(
      async () => {
        const { rows } = await db.query<CleanupRun>(
          `SELECT id, status, trigger, result FROM cron_job_runs
            WHERE job_name = 'cleanupExpiredData' AND trigger = 'manual' AND status = 'COMPLETED'`,
        );
        return rows[0];
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'the triggered run to complete' },
    );
  });
});
