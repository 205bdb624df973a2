import { describe, expect, it } from 'vitest';
import {
  cronScenarios,
  duplicated,
  iso,
  missingTicks,
  overlapping,
  untracked,
  withStatus,
} from '../support/cron.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

// Real scheduler and worker processes (test/fixtures/cron-fixture) on Redis and Postgres.
describe('overlap policies: a job every second whose run takes 2.5 s and ignores its signal', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it.concurrent("'bufferOne': one tick waits for the run and starts when it ends; runs never overlap; further ticks are SKIPPED", async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_buffer', { onTestFinished, onTestFailed });
    await Promise.all([s.startWorker(['bufferOne']), s.startWorker(['bufferOne'])]);
    await s.startScheduler(['bufferOne']);
    await s.waitForRuns('fixture.bufferOne', (rows) => withStatus(rows, 'COMPLETED').length >= 3, '3 completed runs', 60_000);
    const { rows, executions } = await s.settle('fixture.bufferOne');

    expect(overlapping(executions)).toEqual([]);
    expect(missingTicks(rows).map(iso)).toEqual([]);
    expect(duplicated(rows).map(iso)).toEqual([]);
    expect(untracked(executions, rows)).toEqual([]);
    expect(rows.filter((row) => !['COMPLETED', 'SKIPPED'].includes(row.status))).toEqual([]);
    // Every run after the first was a waiting tick: its tick fell while the previous run was going,
    // and it started after that run had ended.
    const finished = executions.filter((e) => e.end !== undefined);
    expect(finished.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < finished.length; i++) {
      expect(finished[i].scheduledAt, `run ${finished[i].runId} was buffered`).toBeLessThan(finished[i - 1].end as number);
      expect(finished[i].start).toBeGreaterThanOrEqual(finished[i - 1].end as number);
    }
    const skipped = withStatus(rows, 'SKIPPED');
    expect(skipped.length).toBeGreaterThanOrEqual(2);
    for (const row of skipped) expect(row.reason).toMatch(/^Skipped: .*another tick already waits for it \(overlap: 'bufferOne'\)$/);
  });

  it.concurrent("'allow': runs overlap, each tick still has exactly one row, none is SKIPPED", async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_allow', { onTestFinished, onTestFailed });
    await s.startWorker(['allow']);
    await s.startScheduler(['allow']);
    await s.waitForRuns('fixture.allow', (rows) => withStatus(rows, 'COMPLETED').length >= 4, '4 completed runs', 60_000);
    const { rows, executions } = await s.settle('fixture.allow');

    expect(overlapping(executions).length).toBeGreaterThan(0);
    expect(missingTicks(rows).map(iso)).toEqual([]);
    expect(duplicated(rows).map(iso)).toEqual([]);
    expect(duplicated(executions).map(iso)).toEqual([]);
    expect(untracked(executions, rows)).toEqual([]);
    expect(rows.filter((row) => row.status !== 'COMPLETED')).toEqual([]);
  });

  it.concurrent('cron runs per worker are bounded by CRON_CONCURRENCY, apart from the task concurrency', async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_concurrency', { onTestFinished, onTestFailed });
    await s.startWorker(['allow'], { env: { CRON_CONCURRENCY: '2', WORKER_CONCURRENCY: '10' } });
    const scheduler = await s.startScheduler(['allow']);
    await s.waitForRuns('fixture.allow', (rows) => rows.filter((row) => row.status === 'COMPLETED').length >= 4, '4 completed runs', 60_000);
    await s.stop(scheduler);
    const executions = await s.executions('fixture.allow');
    // At no moment did more than two runs execute in the one worker.
    const most = Math.max(...executions.map((e) => executions.filter((o) => o.start <= e.start && e.start < (o.end ?? Infinity)).length));
    expect(most).toBe(2);
  });

  it.concurrent("'skip' (the default): a tick that finds the run going is SKIPPED and says why", async ({ onTestFinished, onTestFailed }) => {
    const s = await scenarios.create('cron_skip', { onTestFinished, onTestFailed });
    await s.startWorker(['slow']);
    await s.startScheduler(['slow']);
    await s.waitForRuns('fixture.slow', (rows) => withStatus(rows, 'SKIPPED').length >= 2, '2 skipped ticks', 60_000);
    const { rows, executions } = await s.settle('fixture.slow');
    expect(overlapping(executions)).toEqual([]);
    for (const row of withStatus(rows, 'SKIPPED')) expect(row.reason).toBe('Skipped: an earlier run still holds the lock');
  });
});

describe('catch-up policies after a worker outage of several ticks (a job every 2 s)', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it.concurrent.for([
    { policy: 'skip', maxBacklogRuns: 2 },
    { policy: 'latest', maxBacklogRuns: 2 },
    { policy: '3000', maxBacklogRuns: 2 },
  ])('catchUp $policy: stale ticks are MISSED rows with a reason, no burst of runs', async ({ policy, maxBacklogRuns }, { onTestFinished, onTestFailed }) => {
    const s = await scenarios.create(`cron_catchup_${policy}`, { onTestFinished, onTestFailed });
    const env = { FIXTURE_CATCH_UP: policy };
    const first = await s.startWorker(['catchUp'], { env });
    await s.startScheduler(['catchUp'], { env });
    await s.waitForRuns('fixture.catchUp', (rows) => withStatus(rows, 'COMPLETED').length >= 1, 'a completed run');
    await s.stop(first);
    const downAt = Date.now();
    // Four ticks fall while no worker runs: their jobs wait in the queue.
    const backlog = await s.poll(
      async () => {
        const waiting = (await s.cronQueue().getWaiting()).filter((job) => job.name === 'fixture.catchUp').length;
        return waiting >= 4 ? waiting : undefined;
      },
      { what: '4 ticks waiting', timeoutMs: 30_000 },
    );
    expect(backlog).toBeGreaterThanOrEqual(4);
    const upAt = Date.now();
    await s.startWorker(['catchUp'], { env });
    // Ticks that fell while the worker booted are backlog too: the newest of them is the one 'latest' runs.
    const readyAt = Date.now();
    const { rows, executions } = await s.settle('fixture.catchUp');

    expect(missingTicks(rows, 2_000).map(iso)).toEqual([]);
    expect(duplicated(rows).map(iso)).toEqual([]);
    expect(untracked(executions, rows)).toEqual([]);
    const outage = rows.filter((row) => row.scheduledAt > downAt && row.scheduledAt < upAt);
    expect(outage.length).toBeGreaterThanOrEqual(4);
    const ran = outage.filter((row) => row.status === 'COMPLETED');
    const missed = outage.filter((row) => row.status === 'MISSED');
    // Two backlog ticks start together when the worker comes up after both fell
    // due: with '3000' whenever both are inside the window; with 'skip' and
    // 'latest' when the worker is up less than 1 s after the newer one fell due
    // (the older is not superseded yet). The second finds the first holding the
    // lock and is SKIPPED, as overlap 'skip' says: a row, not a second run.
    const skipped = outage.filter((row) => row.status === 'SKIPPED');
    for (const row of skipped) expect(row.reason).toBe('Skipped: an earlier run still holds the lock');
    if (policy !== '3000') expect(skipped.length).toBeLessThanOrEqual(1);
    expect(ran.length + missed.length + skipped.length).toBe(outage.length);
    // No burst: at most the newest backlog ticks ran; every other one is visible as MISSED.
    expect(ran.length).toBeLessThanOrEqual(maxBacklogRuns);
    expect(missed.length).toBeGreaterThanOrEqual(outage.length - maxBacklogRuns);
    for (const row of missed) {
      expect(row.reason).toMatch(policy === '3000' ? /^Missed: \d+ ms late, past its catch-up window of 3000 ms$/ : /^Missed: (superseded by the tick of |\d+ ms late, past the catch-up grace)/);
      expect(row).toMatchObject({ result: null, error: null, lockToken: null });
    }
    // The ticks that ran are the newest of the backlog.
    const newestMissed = Math.max(...missed.map((row) => row.scheduledAt));
    for (const row of ran) expect(row.scheduledAt).toBeGreaterThan(newestMissed);
    if (policy === 'latest') {
      // The newest tick due when the worker came up runs (or, on a machine too slow to start it within a second, the next).
      const caughtUp = rows.filter((row) => row.scheduledAt > downAt && row.scheduledAt <= readyAt + 2_000 && row.status === 'COMPLETED');
      expect(caughtUp.length).toBeGreaterThanOrEqual(1);
    }
  });
});
