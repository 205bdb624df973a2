import { describe, expect, it } from 'vitest';
import {
  cronScenarios,
  type CronRunRow,
  expectOneRowPerTick,
} from '../support/cron.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

const TICK = 'fixture.tick';
const byNumber = (a: number, b: number) => a - b;
const completed = (rows: CronRunRow[]) => rows.filter((row) => row.status === 'COMPLETED');


// Real scheduler and worker processes (test/fixtures/cron-fixture) on Redis and Postgres.
describe('each tick of a cron job runs exactly once', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it.concurrent(
    '3 schedulers and 2 workers, a job every second for 20+ ticks: one row per tick, no gap, no overlap, no untracked run',
    async ({ onTestFinished, onTestFailed }) => {
      const s = await scenarios.create('cron_once', { onTestFinished, onTestFailed });
      await Promise.all([s.startWorker(['tick']), s.startWorker(['tick'])]);
      const schedulers = await Promise.all([
        s.startScheduler(['tick']),
        s.startScheduler(['tick']),
        s.startScheduler(['tick']),
      ]);

      await s.waitForRuns(TICK, (rows) => completed(rows).length >= 22, '22 completed runs', 60_000);
      // Stop firing, then let the workers finish every tick already enqueued.
      await Promise.all(schedulers.map((app) => s.stop(app)));
      await s.waitForIdleQueue();

      const rows = await s.runs(TICK);
      const executions = await s.executions(TICK);
      expect(completed(rows).length).toBeGreaterThanOrEqual(22);
      expectOneRowPerTick(rows, executions);
      expect(rows.every((row) => row.trigger === 'schedule')).toBe(true);
      expect(completed(rows).map((row) => row.result)).toEqual(
        completed(rows).map((row) => ({ tick: row.scheduledAt })),
      );
      // runId (the fencing token) grows with every run.
      expect(executions.map((e) => e.runId)).toEqual(executions.map((e) => e.runId).sort(byNumber));
    },
  );

  it.concurrent(
    'a rolling restart of the schedulers while ticks continue neither drops nor duplicates a tick',
    async ({ onTestFinished, onTestFailed }) => {
      const s = await scenarios.create('cron_restart', { onTestFinished, onTestFailed });
      await s.startWorker(['tick']);
      const first = await s.startScheduler(['tick'], { name: 'scheduler-1' });
      const second = await s.startScheduler(['tick'], { name: 'scheduler-2' });
      const moreRuns = async (more: number, what: string) => {
        const before = completed(await s.runs(TICK)).length;
        await s.waitForRuns(TICK, (rows) => completed(rows).length >= before + more, what);
      };

      await moreRuns(3, 'runs with two schedulers');
      await s.stop(first);
      await moreRuns(2, 'runs with the second scheduler alone');
      // The new replica boots while the old one keeps firing, and catches up the latest tick (a no-op: it was enqueued).
      const third = await s.startScheduler(['tick'], { name: 'scheduler-3' });
      await s.stop(second);
      await moreRuns(3, 'runs with the new scheduler alone');
      await s.stop(third);
      await s.waitForIdleQueue();

      const rows = await s.runs(TICK);
      expectOneRowPerTick(rows, await s.executions(TICK));
      expect(completed(rows).length).toBeGreaterThanOrEqual(8);
    },
  );
});
