import { describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../support/database.js';
import {
  cronScenarios,
  iso,
  untracked,
  type CronRunRow,
  type CronScenario,
  type ScenarioHooks,
} from '../support/cron.js';
import type { LogLine } from '../support/processes.js';
import { TcpProxy } from '../support/tcp-proxy.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

const TICK = 'fixture.tick';
const completed = (rows: CronRunRow[]) => rows.filter((row) => row.status === 'COMPLETED');

/** Ticks the worker logged as not run because their run could not be recorded. */
const didNotRun = (lines: LogLine[]) =>
  lines
    .filter((line) => line.jobName === TICK && typeof line.msg === 'string' && line.msg.includes('did not run'))
    .map((line) => Date.parse(line.scheduledAt as string));

// Real scheduler and worker processes (test/fixtures/cron-fixture) on Redis and Postgres;
// the worker reaches Postgres through a loopback proxy that the test cuts (the shared server stays up).
describe('Postgres unreachable for a few ticks', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  /** A worker whose DATABASE_URL goes through a proxy of its own, closed when the test ends. */
  async function startWorkerBehindProxy(s: CronScenario, fixtures: string[], hooks: ScenarioHooks) {
    const postgres = new URL(TEST_DATABASE_URL);
    const proxy = await TcpProxy.start({ host: postgres.hostname, port: Number(postgres.port || 5432) });
    hooks.onTestFinished(() => proxy.close());
    const throughProxy = new URL(TEST_DATABASE_URL);
    throughProxy.host = `127.0.0.1:${proxy.port}`;
    const worker = await s.startWorker(fixtures, { env: { DATABASE_URL: throughProxy.toString() } });
    return { worker, proxy };
  }

  it.concurrent(
    'runs nothing untracked, does not crash, logs why, and tracking resumes',
    async ({ onTestFinished, onTestFailed }) => {
      const s = await scenarios.create('cron_pg_outage', { onTestFinished, onTestFailed });
      const { worker, proxy } = await startWorkerBehindProxy(s, ['tick'], { onTestFinished, onTestFailed });
      await s.startScheduler(['tick']);
      await s.waitForRuns(TICK, (rows) => completed(rows).length >= 3, '3 runs before the outage');

      await proxy.cut();
      const cutAt = Date.now();
      // Postgres stays unreachable for at least three ticks the worker could not record.
      await s.poll(() => didNotRun(worker.lines).filter((tick) => tick > cutAt).length >= 3, {
        what: 'three ticks not run during the outage',
      });
      await proxy.restore();
      const restoredAt = Date.now();
      const resumed = await s.waitForRuns(
        TICK,
        (rows) => completed(rows).filter((row) => row.scheduledAt > restoredAt).length >= 2,
        'runs recorded again after the outage',
      );
      expect(worker.running).toBe(true);

      // Every execution has its row, so none happened while Postgres was unreachable:
      // a tick of the outage either did not run or (fired just before the restore) ran after it.
      const rows = await s.runs(TICK);
      const executions = await s.executions(TICK);
      expect(untracked(executions, rows)).toEqual([]);
      expect(
        executions.filter((e) => e.scheduledAt > cutAt && e.scheduledAt < restoredAt && e.start < restoredAt),
      ).toEqual([]);
      const notRun = didNotRun(worker.lines).filter((tick) => tick > cutAt && tick < restoredAt);
      expect(notRun.length).toBeGreaterThanOrEqual(3);
      for (const tick of notRun) {
        expect(
          executions.filter((e) => e.scheduledAt === tick),
          `execution of ${iso(tick)}`,
        ).toEqual([]);
        expect(
          rows.filter((row) => row.scheduledAt === tick),
          `row of ${iso(tick)}`,
        ).toEqual([]);
      }
      // The log says why: the run could not be recorded, so it did not execute.
      const why = worker.lines.find((line) => line.jobName === TICK && String(line.msg).includes('did not run'));
      expect(why?.msg).toContain('could not be recorded in cron_job_runs');
      expect(completed(resumed).filter((row) => row.scheduledAt > restoredAt).length).toBeGreaterThanOrEqual(2);
      expect(proxy.connections).toBeGreaterThan(1);
    },
  );

  it.concurrent(
    'a run that finishes while Postgres is unreachable, for longer than its liveness bound, is recorded COMPLETED once Postgres is back, not lost',
    async ({ onTestFinished, onTestFailed }) => {
      const s = await scenarios.create('cron_pg_midrun', { onTestFinished, onTestFailed });
      // fixture.outlives runs 2.5 s with a lockTtl (its liveness bound) of 1 s.
      const { worker, proxy } = await startWorkerBehindProxy(s, ['outlives'], { onTestFinished, onTestFailed });
      await s.startScheduler(['outlives']);
      const inFlight = await s.poll(async () => (await s.executions('fixture.outlives'))[0], { what: 'a run to start' });
      await proxy.cut();
      // The handler finishes and its outcome cannot be written.
      const failedAt = await s.poll(
        () =>
          worker.lines.find((line) => String(line.msg).startsWith(`Recording the outcome of cron run ${inFlight.runId} `))?.time as
            | number
            | undefined,
        { what: 'the worker to fail writing the outcome' },
      );
      // Stay cut past the liveness bound, so the row's heartbeat is stale when Postgres is back.
      await s.poll(() => Date.now() > failedAt + 3 * 1_000, { what: 'three liveness bounds to pass' });
      await proxy.restore();

      const rows = await s.waitForRuns(
        'fixture.outlives',
        (all) => all.some((row) => row.id === inFlight.runId && row.status !== 'RUNNING'),
        `run ${inFlight.runId} to leave RUNNING`,
      );
      expect(rows.find((row) => row.id === inFlight.runId)).toMatchObject({
        status: 'COMPLETED',
        error: null,
        result: { slept: 2_500 },
      });
      const executions = await s.executions('fixture.outlives');
      expect(executions.find((e) => e.runId === inFlight.runId)).toMatchObject({ outcome: 'returned' });
      expect(untracked(executions, rows)).toEqual([]);
      expect(rows.filter((row) => row.status === 'FAILED')).toEqual([]);
      expect(worker.running).toBe(true);
    },
  );
});
