import { describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { scrape, valueOf } from '../support/metrics.js';
import { cronScenarios, overlapping, untracked, withStatus } from '../support/cron.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { REDIS_URL } from '../support/redis.js';
import { TcpProxy } from '../support/tcp-proxy.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };


// Real scheduler and worker processes (test/fixtures/cron-fixture) on Redis and Postgres.
describe('fencing and liveness', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it.concurrent(
    'a handler that blocks its process past its lockTtl is marked lost, a later run starts, and its late outcome cannot overwrite the row',
    async ({ onTestFinished, onTestFailed }) => {
      const s = await scenarios.create('cron_fenced', { onTestFinished, onTestFailed });
      // fixture.blocking: lockTtl 1.5 s; in the blocker it busy-waits 6 s (no heartbeat, no lock extension).
      const blocker = await s.startWorker(['blocking'], { name: 'blocker', env: { FIXTURE_BLOCKER: '1' } });
      const healthy = await s.startWorker(['blocking'], { name: 'healthy' });
      await s.startScheduler(['blocking']);

      const frozen = await s.poll(
        async () => (await s.executions('fixture.blocking')).find((e) => e.pid === blocker.pid && e.end !== undefined),
        { what: 'a run in the blocking worker to end', timeoutMs: 60_000 },
      );
      const rows = await s.runs('fixture.blocking');
      const executions = await s.executions('fixture.blocking');
      const row = rows.find((r) => r.id === frozen.runId);
      // The late handler returned, but its row stays as the next run marked it.
      expect(frozen.outcome).toBe('returned');
      expect(row).toMatchObject({ status: 'FAILED', result: null, fencingToken: frozen.fencingToken });
      expect(row?.error).toMatch(/^Worker lost: no heartbeat since .* \(liveness bound 1500 ms\)/);
      // A run of a later tick started while the blocker was frozen, with a larger fencing token.
      const during = executions.filter((e) => e.pid === healthy.pid && e.start > frozen.start && e.start < (frozen.end as number));
      expect(during.length).toBeGreaterThan(0);
      for (const e of during) expect(e.fencingToken).toBeGreaterThan(frozen.fencingToken);
      await blocker.waitForLog(
        (line) => String(line.msg).startsWith(`Outcome of cron run ${frozen.runId} (fixture.blocking, fencing token ${frozen.fencingToken}) not recorded`),
        'the refused outcome to be logged',
      );
      expect(untracked(executions.filter((e) => e.pid === healthy.pid), rows)).toEqual([]);
    },
  );

  it.concurrent(
    'Redis restarted empty mid-run: a handler that ignores its signal is not overlapped by the next ticks; one that honours it is aborted with "lock lost" on its row',
    async ({ onTestFinished, onTestFailed }) => {
      const s = await scenarios.create('cron_redis_restart', { onTestFinished, onTestFailed });
      const redis = await ExtraRedisServer.start();
      onTestFinished(() => redis.stop());
      // The apps use the Redis the test restarts; the fixtures' execution log stays in the shared one.
      const env = { REDIS_URL: redis.url(), FIXTURE_RECORDER_REDIS_URL: REDIS_URL, FIXTURE_LONG_MS: '8000' };
      const worker = await s.startWorker(['stubborn', 'long'], { env });
      const scheduler = await s.startScheduler(['stubborn', 'long'], { env });

      const running = await s.poll(
        async () => {
          const all = await s.executions();
          const stubborn = all.find((e) => e.job === 'fixture.stubborn');
          const long = all.find((e) => e.job === 'fixture.long');
          return stubborn && long ? { stubborn, long } : undefined;
        },
        { what: 'both crons to be running' },
      );
      await redis.restartEmpty();

      // The stubborn run goes on for its 8 s; ticks after its lock expired find the lock free and its row RUNNING.
      await s.poll(
        async () => (await s.executions('fixture.stubborn')).find((e) => e.runId === running.stubborn.runId && e.end !== undefined),
        { what: 'the stubborn run to end', timeoutMs: 30_000 },
      );
      const skippedByDatabase = await s.waitForRuns(
        'fixture.stubborn',
        (rows) => rows.some((row) => row.status === 'SKIPPED' && row.reason?.includes('although the lock was free')),
        'a tick skipped by the database guard',
        20_000,
      );
      await s.stop(scheduler);
      await s.poll(async () => (await s.runs()).every((row) => row.status !== 'RUNNING'), { what: 'no RUNNING row', timeoutMs: 30_000 });

      const stubborn = await s.executions('fixture.stubborn');
      expect(overlapping(stubborn)).toEqual([]);
      const guard = skippedByDatabase.find((row) => row.status === 'SKIPPED' && row.reason?.includes('although the lock was free'));
      expect(guard?.reason).toMatch(new RegExp(`^Skipped: run ${running.stubborn.runId} of this job is still RUNNING \\(last heartbeat `));
      // The honouring handler was aborted because its lock expired, and its row says so.
      const longRow = (await s.runs('fixture.long')).find((row) => row.id === running.long.runId);
      expect(longRow).toMatchObject({ status: 'FAILED' });
      expect(longRow?.reason).toMatch(/^Aborted by CronLockLostError: Lost the lock of cron job "fixture.long" \(it expired at /);
      const longExecution = (await s.executions('fixture.long')).find((e) => e.runId === running.long.runId);
      expect(longExecution).toMatchObject({ outcome: 'threw', abortReason: 'CronLockLostError' });
      expect(overlapping(await s.executions('fixture.long'))).toEqual([]);
      expect(worker.running).toBe(true);
    },
  );

  it.concurrent('a failed lock extension is retried while the lock is valid: a short Redis outage does not abort the run', async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_extend', { onTestFinished, onTestFailed });
    const target = new URL(REDIS_URL);
    const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    onTestFinished(() => proxy.close());
    // fixture.long, here with a lockTtl of 10 s (extended every 3.3 s) and an 8 s run that honours its signal.
    const env = {
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      FIXTURE_RECORDER_REDIS_URL: REDIS_URL,
      FIXTURE_LONG_MS: '8000',
      FIXTURE_LONG_TTL_MS: '10000',
      TASKS_HEALTH_PORT: String(await freePort()),
      TASKS_HEALTH_HOST: '127.0.0.1',
    };
    const worker = await s.startWorker(['long'], { env });
    const extensionFailures = async () =>
      valueOf(await scrape(`http://127.0.0.1:${env.TASKS_HEALTH_PORT}/metrics`), 'tasks_cron_lock_extension_failures_total', { cron: 'fixture.long' });
    await s.startScheduler(['long']);
    const started = await s.poll(async () => (await s.executions('fixture.long'))[0], { what: 'a run to start' });
    expect(await extensionFailures()).toBe(0);
    await proxy.cut();
    await worker.waitForLog((line) => String(line.msg).startsWith('Could not extend the lock of'), 'an extension to fail');
    await proxy.restore();
    const rows = await s.waitForRuns(
      'fixture.long',
      (all) => all.some((row) => row.id === started.runId && row.status !== 'RUNNING'),
      `run ${started.runId} to finish`,
    );
    expect(rows.find((row) => row.id === started.runId)).toMatchObject({ status: 'COMPLETED', result: { slept: 8_000 }, reason: null });
    const execution = (await s.executions('fixture.long')).find((e) => e.runId === started.runId);
    expect(execution).toMatchObject({ outcome: 'returned', abortReason: undefined });
    expect(worker.lines.some((line) => String(line.msg).includes('again after failures since'))).toBe(true);
    expect(worker.lines.some((line) => String(line.msg).startsWith('Lost the lock of'))).toBe(false);
    expect(await extensionFailures()).toBeGreaterThanOrEqual(1);
  });

  it.concurrent('a cron run handed back at shutdown runs again on another worker, as the same row with a new fencing token', async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_handback', { onTestFinished, onTestFailed });
    // fixture.long honours its signal; 4 s runs; the scenario's shutdown grace is 1 s.
    const env = { FIXTURE_LONG_MS: '4000' };
    // Both booted before the run starts: the one running it is stopped at once, well inside its 4 s.
    const workers = await Promise.all([s.startWorker(['long'], { env, name: 'worker-a' }), s.startWorker(['long'], { env, name: 'worker-b' })]);
    await s.startScheduler(['long']);
    const started = await s.poll(async () => (await s.executions('fixture.long'))[0], { what: 'a run to start' });
    const first = workers.find((app) => app.pid === started.pid);
    const second = workers.find((app) => app.pid !== started.pid);
    if (!first || !second) throw new Error(`run ${started.runId} started in pid ${started.pid}, not in a worker of this test`);
    expect(await s.stop(first)).toBe(0);

    const rows = await s.waitForRuns(
      'fixture.long',
      (all) => all.some((row) => row.id === started.runId && row.status === 'COMPLETED'),
      `run ${started.runId} to complete on the second worker`,
    );
    const row = rows.find((r) => r.id === started.runId);
    const executions = (await s.executions('fixture.long')).filter((e) => e.runId === started.runId);
    expect(executions.map((e) => ({ pid: e.pid, outcome: e.outcome, abortReason: e.abortReason }))).toEqual([
      { pid: first.pid, outcome: 'threw', abortReason: 'WorkerShutdownAbort' },
      { pid: second.pid, outcome: 'returned', abortReason: undefined },
    ]);
    expect(executions[1].fencingToken).toBeGreaterThan(executions[0].fencingToken);
    expect(row).toMatchObject({ status: 'COMPLETED', handedBack: false, fencingToken: executions[1].fencingToken, result: { slept: 4_000 } });
    expect(rows.filter((r) => r.scheduledAt === started.scheduledAt)).toHaveLength(1);
    expect(withStatus(rows, 'FAILED')).toEqual([]);
    expect(first.lines.some((line) => String(line.msg).startsWith('Cron job fixture.long: Handed back at shutdown'))).toBe(true);
  });
});
