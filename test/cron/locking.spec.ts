import { describe, expect, it } from 'vitest';
import {
  cronScenarios,
  iso,
  missingTicks,
  skippedWithoutRunInProgress,
  untracked,
  expectOneRowPerTick,
  withStatus,
} from '../support/cron.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

const byNumber = (a: number, b: number) => a - b;

// Real scheduler and worker processes (test/fixtures/cron-fixture) on Redis and Postgres.
describe('the cron lock', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it.concurrent(
    'a job every second whose run takes 2.5 s: the ticks in between are SKIPPED rows and runs never overlap',
    async ({ onTestFinished, onTestFailed }) => {
      const s = await scenarios.create('cron_slow', { onTestFinished, onTestFailed });
      await Promise.all([s.startWorker(['slow']), s.startWorker(['slow'])]);
      await s.startScheduler(['slow']);
      await s.waitForRuns(
        'fixture.slow',
        (rows) => withStatus(rows, 'COMPLETED').length >= 3,
        '3 completed runs',
        40_000,
      );

      const { rows, executions } = await s.settle('fixture.slow');
      expectOneRowPerTick(rows, executions);
      expect(withStatus(rows, 'COMPLETED').length).toBeGreaterThanOrEqual(3);
      // Each run spans more than two ticks, so ticks were skipped between runs.
      expect(withStatus(rows, 'SKIPPED').length).toBeGreaterThanOrEqual(2);
      for (const row of withStatus(rows, 'SKIPPED'))
        expect(row).toMatchObject({ lockToken: null, result: null, error: null });
    },
  );

  it.concurrent(
    'a failing job: a FAILED row with the error message and stack, and the lock is released (later ticks run)',
    async ({ onTestFinished, onTestFailed }) => {
      const s = await scenarios.create('cron_failing', { onTestFinished, onTestFailed });
      await s.startWorker(['failing']);
      await s.startScheduler(['failing']);
      await s.waitForRuns('fixture.failing', (rows) => withStatus(rows, 'FAILED').length >= 3, '3 failed runs');

      const { rows, executions } = await s.settle('fixture.failing');
      // Its lockTtl (60 s) is longer than the test waits: had a failure kept the lock, there would
      // be one FAILED run and then only SKIPPED ticks. Ticks skipped while a run was going are fine.
      expect(missingTicks(rows).map(iso)).toEqual([]);
      expect(rows.filter((row) => row.status !== 'FAILED' && row.status !== 'SKIPPED')).toEqual([]);
      expect(skippedWithoutRunInProgress(rows)).toEqual([]);
      const failed = withStatus(rows, 'FAILED');
      expect(failed.length).toBeGreaterThanOrEqual(3);
      for (const row of failed) {
        expect(row.error).toContain(`Error: fixture failure of run ${row.id}`);
        expect(row.error).toMatch(/\n\s+at /); // the stack
        expect(row.completedAt).not.toBeNull();
        expect(row.durationMs).not.toBeNull();
      }
      expect(untracked(executions, rows)).toEqual([]);
      expect(executions.map((e) => e.runId).sort(byNumber)).toEqual(failed.map((row) => row.id).sort(byNumber));
      expect(executions.every((e) => e.outcome === 'threw')).toBe(true);
      expect(await s.redis().exists(`${s.prefix}:cron-lock:fixture.failing`)).toBe(0);
    },
  );

  it.concurrent(
    'a run longer than its lockTtl keeps its lock: the next ticks are SKIPPED, not run alongside (auto-extension)',
    async ({ onTestFinished, onTestFailed }) => {
      const s = await scenarios.create('cron_outlives', { onTestFinished, onTestFailed });
      await Promise.all([s.startWorker(['outlives']), s.startWorker(['outlives'])]);
      await s.startScheduler(['outlives']);
      await s.waitForRuns(
        'fixture.outlives',
        (rows) => withStatus(rows, 'COMPLETED').length >= 3,
        '3 completed runs',
        40_000,
      );

      const { rows, executions } = await s.settle('fixture.outlives');
      expectOneRowPerTick(rows, executions);
      const lockTtlMs = 1_000;
      // Ticks skipped after a run's lockTtl had passed and while it was still going: without
      // extension its lock would have expired and those ticks would have run alongside it.
      const skippedPastTtl = withStatus(rows, 'SKIPPED').filter((row) =>
        executions.some((e) => e.start + lockTtlMs < row.scheduledAt && row.scheduledAt < (e.end as number)),
      );
      expect(skippedPastTtl.length).toBeGreaterThanOrEqual(2);
      expect(executions.every((e) => (e.end as number) - e.start >= 2_500)).toBe(true);
    },
  );
});
