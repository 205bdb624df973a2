import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CronRegistry } from 'nestjs-tasks';
import { databaseOptions } from '@app/jobs';
import { ExecutionRecorder, ManualCron } from '../fixtures/cron-fixture/cron-fixtures.js';
import { CRON_FIXTURE_ENTRY } from '../support/cron.js';
import { closeAll, createTasksApp, rejectionOf } from '../support/in-process.js';
import { AppProcess, ROOT, workerReady } from '../support/processes.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { TestPki, TlsPostgresCluster, type IssuedCertificate } from '../support/tls.js';
import { waitFor } from '../support/wait-for.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 120_000 };

const MIGRATE_ENTRY = resolve(ROOT, 'dist/apps/migrate/main.js');
const MANUAL = 'fixture.manual';
const WORKER_APP_NAME = 'tasks-tls-cron-worker';

@Module({ providers: [ExecutionRecorder, ManualCron] })
class ManualCronModule {}

interface SslSession {
  ssl: boolean;
  version: string | null;
}

// A Postgres cluster of the test's own whose certificate (from a throwaway
// CA) names 127.0.0.1 (and postgres.example.test) but not localhost, and whose pg_hba.conf rejects every TCP
// connection without SSL: whatever connects, connected over TLS.
describe('Postgres over SSL (sslmode=verify-full, require) with a private CA', PROCESS_TIMEOUT, () => {
  let pki: TestPki;
  let serverCert: IssuedCertificate;
  let cluster: TlsPostgresCluster;

  beforeAll(async () => {
    pki = await TestPki.create('pg-tls');
    serverCert = await pki.issue('postgres', ['IP:127.0.0.1', 'DNS:postgres.example.test']);
    cluster = await TlsPostgresCluster.create(pki, serverCert);
  });

  afterAll(async () => {
    await cluster?.drop();
    await pki?.dispose();
  });

  /** Starts a built app that the test stops when it ends; its output is printed if the test fails. */
  function spawnApp(name: string, entry: string, env: Record<string, string>): AppProcess {
    const app = new AppProcess(name, entry, env);
    onTestFinished(async () => {
      await app.stop();
    });
    onTestFailed(() => console.error(`--- ${name} ---\n${app.tail()}`));
    return app;
  }

  /** Runs the migrate app (apps/migrate: creates the database, applies migrations) against `url`. */
  async function migrate(url: string): Promise<{ code: number | null; output: string }> {
    const app = spawnApp('migrate', MIGRATE_ENTRY, { DATABASE_URL: url });
    const code = await app.exited;
    return { code, output: app.output.join('\n') };
  }

  /** Connects with the apps' own TypeORM options for `url` and says whether the session uses SSL. */
  async function sessionSsl(url: string): Promise<SslSession> {
    const dataSource = new DataSource(databaseOptions({ DATABASE_URL: url }));
    await dataSource.initialize();
    try {
      const [row] = (await dataSource.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()')) as SslSession[];
      return row;
    } finally {
      await dataSource.destroy();
    }
  }

  it('with sslmode=verify-full: the migrate app creates and migrates the database, a cron worker records a COMPLETED run over SSL', async () => {
    const database = 'tasks_verify_full';
    const url = cluster.url(database, { sslmode: 'verify-full', sslrootcert: pki.caFile });

    const migrated = await migrate(url);
    expect(migrated.code, migrated.output).toBe(0);
    expect(migrated.output).toMatch(/Applied \d+ migration/);

    const prefix = uniquePrefix('tls-pg');
    onTestFinished(() => deletePrefix(prefix));
    const worker = spawnApp('cron-worker', CRON_FIXTURE_ENTRY, {
      CRON_ROLE: 'worker',
      CRON_FIXTURES: 'manual',
      // application_name tells the worker's sessions apart in pg_stat_activity.
      DATABASE_URL: cluster.url(database, { sslmode: 'verify-full', sslrootcert: pki.caFile, application_name: WORKER_APP_NAME }),
      TASKS_PREFIX: prefix,
      TASKS_SHUTDOWN_GRACE_MS: '1000',
    });
    await worker.waitForLog(workerReady, 'ready', 60_000);

    // An in-process producer (on the shared Redis) triggers; the worker runs the job and records the run.
    const producer = await createTasksApp({ tasks: { prefix }, imports: [ManualCronModule] });
    onTestFinished(() => closeAll([producer]));
    const trigger = async () => (await producer.get(CronRegistry).trigger(MANUAL)).waitResult({ timeoutMs: 15_000 });
    const outcome = await trigger();
    if (outcome.status !== 'COMPLETED') throw new Error(`expected a COMPLETED run, got ${JSON.stringify(outcome)}`);
    expect(outcome.result).toEqual({ runId: outcome.runId, trigger: 'manual' });

    const rows = await cluster.query(database, 'SELECT id, job_name, status, trigger, error FROM cron_job_runs WHERE id = $1', [outcome.runId]);
    expect(rows).toEqual([{ id: String(outcome.runId), job_name: MANUAL, status: 'COMPLETED', trigger: 'manual', error: null }]);

    // The worker's pooled sessions, as the server sees them. An idle pool closes its
    // connections after a while: trigger again until one is open to look at.
    const sessions = await waitFor(
      async () => {
        const found = await cluster.query<SslSession>(
          database,
          `SELECT s.ssl, s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1`,
          [WORKER_APP_NAME],
        );
        if (found.length > 0) return found;
        await trigger();
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `sessions of ${WORKER_APP_NAME} in pg_stat_activity` },
    );
    for (const session of sessions) expect(session).toEqual({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
  });

  it('with sslmode=require: migrates and connects over SSL; node-postgres verifies the certificate unless uselibpqcompat=true', async () => {
    // node-postgres (pg 8) treats require like verify-full: with the CA (sslrootcert) it works,
    // as the migrate app (ensureDatabase, TypeORM) and the apps' TypeORM options show.
    const withCa = cluster.url('tasks_require', { sslmode: 'require', sslrootcert: pki.caFile });
    const migrated = await migrate(withCa);
    expect(migrated.code, migrated.output).toBe(0);
    expect(migrated.output).toMatch(/Applied \d+ migration/);
    await expect(sessionSsl(withCa)).resolves.toEqual({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });

    // Without the CA it refuses the server, where libpq's require would connect unverified...
    const error = await rejectionOf(sessionSsl(cluster.url('tasks_require', { sslmode: 'require' })));
    expect(error.message).toContain('self-signed certificate in certificate chain');

    // ...which uselibpqcompat=true restores: encrypted, certificate not checked (not even the name).
    const libpq = cluster.url('tasks_require', { uselibpqcompat: 'true', sslmode: 'require' }, 'localhost');
    await expect(sessionSsl(libpq)).resolves.toEqual({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
  });

  it('with sslmode=verify-full and a host name the certificate lacks, migrate and the worker fail with the certificate error; without SSL the server refuses', async () => {
    // localhost reaches the same server, but the certificate does not name it.
    const misnamed = cluster.url('tasks_misnamed', { sslmode: 'verify-full', sslrootcert: pki.caFile }, 'localhost');
    const altnames = "Hostname/IP does not match certificate's altnames: Host: localhost. is not in the cert's altnames: IP Address:127.0.0.1, DNS:postgres.example.test";

    const prefix = uniquePrefix('tls-pg-name');
    onTestFinished(() => deletePrefix(prefix));
    const worker = spawnApp('cron-worker-misnamed', CRON_FIXTURE_ENTRY, {
      CRON_ROLE: 'worker',
      CRON_FIXTURES: 'manual',
      DATABASE_URL: misnamed,
      TASKS_PREFIX: prefix,
    });
    const migrated = await migrate(misnamed);
    expect(migrated.code, migrated.output).toBe(1);
    expect(migrated.output).toContain(`Migration failed: Cannot reach Postgres at localhost:${cluster.port} (${altnames})`);

    const code = await worker.exited;
    expect(code, worker.tail()).not.toBe(0);
    expect(code, 'killed by a signal rather than exiting').not.toBeNull();
    expect(worker.output.join('\n')).toContain(altnames);
    expect(worker.lines.some(workerReady), 'the worker must not start consuming').toBe(false);

    // The apps' TypeORM options refuse it the same way.
    const typeorm = await rejectionOf(sessionSsl(misnamed));
    expect(typeorm.message).toContain(altnames);

    // And nothing connects without SSL: pg_hba.conf rejects it.
    const plain = await rejectionOf(sessionSsl(cluster.url('postgres', { sslmode: 'disable' })));
    expect(plain.message).toMatch(/pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "postgres", database "postgres", no encryption/);
  });
});
