import { describe, expect, it } from 'vitest';
import { CronMaintenance, DEFAULT_TASKS_OPTIONS, LOST_RUN_SWEEP_SECONDS } from '#nestjs-tasks-internal';
import { cronScenarios, overlapping, untracked } from '../support/cron.js';
import { freePort } from '../support/ports.js';
import { scrape, valueOf } from '../support/metrics.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

const LONG = 'fixture.long';
const LOCK_TTL_MS = 3_000; // @Cron lockTtl of fixture.long
const SWEEP_INTERVAL_MS = 5_000; // tasks.sweepLostRuns runs every 5 s
// The sweep is itself a cron run: a tick to be enqueued and picked up by the surviving worker.
const SCHEDULING_MARGIN_MS = 2_000;

// Real scheduler and worker processes (test/fixtures/cron-fixture) on Redis and Postgres.
describe('a worker killed mid-run', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it('leaves a FAILED "Worker lost" row within lockTtl + one sweep interval, and a later tick runs on the surviving worker', async () => {
    const s = await scenarios.create('cron_lost');
    // Runs 3.5 s, longer than its 3 s lockTtl (the survivor's run also relies on extension), and
    // so starts every 4 s: on ticks that cycle through the residues of the 5 s sweep interval.
    const env = { FIXTURE_LONG_MS: '3500', TASKS_HEALTH_HOST: '127.0.0.1' };
    const ports = [await freePort(), await freePort()];
    const workers = await Promise.all(ports.map((port) => s.startWorker(['long'], { env: { ...env, TASKS_HEALTH_PORT: String(port) } })));
    await s.startScheduler(['long']);

    // Kill a run that did not start on a sweep tick, so the victim is not also holding the
    // sweep's lock (that would add the sweep's own lockTtl to the bound tested here).
    const doomed = await s.poll(
      async () =>
        (await s.executions(LONG)).find((e) => e.scheduledAt % SWEEP_INTERVAL_MS !== 0 && e.end === undefined),
      { what: 'a run of fixture.long to start off a sweep tick' },
    );
    const victim = workers.find((app) => app.pid === doomed.pid);
    const survivor = workers.find((app) => app.pid !== doomed.pid);
    if (!victim || !survivor)
      throw new Error(`run ${doomed.runId} started in pid ${doomed.pid}, not in a worker of this test`);
    s.kill(victim);
    const killedAt = Date.now();
    await victim.exited;

    const lost = await s.poll(
      async () => {
        const row = (await s.runs(LONG)).find((r) => r.id === doomed.runId);
        return row?.status === 'FAILED' ? row : undefined;
      },
      {
        // The promise: within lockTtl plus one sweep interval of the kill.
        timeoutMs: killedAt + LOCK_TTL_MS + SWEEP_INTERVAL_MS + SCHEDULING_MARGIN_MS - Date.now(),
        what: `run ${doomed.runId} to be marked FAILED after its worker was killed`,
      },
    );
    // Marked by the sweep or by the next run that found the row silent: either says why.
    expect(lost.error).toMatch(/^Worker lost: no heartbeat since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(liveness bound 3000 ms\) and its lock is gone\. The worker died/);
    expect(lost.scheduledAt).toBe(doomed.scheduledAt);

    // A later tick runs to completion on the surviving worker.
    const rows = await s.waitForRuns(
      LONG,
      (all) => all.some((row) => row.id > doomed.runId && row.status === 'COMPLETED'),
      'a later run to complete',
    );
    const next = rows.find((row) => row.id > doomed.runId && row.status === 'COMPLETED');
    const executions = await s.executions(LONG);
    const nextExecution = executions.find((e) => e.runId === next?.id);
    expect(nextExecution).toMatchObject({ pid: survivor.pid, outcome: 'returned' });
    expect(next?.scheduledAt).toBeGreaterThan(doomed.scheduledAt);
    expect(untracked(executions, rows)).toEqual([]);
    // The killed run counts as ending when it was killed: no run started before that.
    expect(overlapping(executions.map((e) => (e.runId === doomed.runId ? { ...e, end: killedAt } : e)))).toEqual([]);
    expect(survivor.running).toBe(true);
    // The survivor marked it (by its sweep or its next run), and counted it once.
    const metrics = await scrape(`http://127.0.0.1:${ports[workers.indexOf(survivor)]}/metrics`);
    expect(valueOf(metrics, 'tasks_cron_runs_total', { cron: LONG, status: 'LOST' })).toBe(1);
  });

  it('has a lost-run sweep whose own lock blocks it for at most one interval when a worker dies mid-sweep', () => {
    const maintenance = new CronMaintenance(null as never, null as never, DEFAULT_TASKS_OPTIONS);
    const sweep = maintenance.definitions().find((cron) => cron.method === 'sweepLostRuns')?.metadata;
    expect(sweep).toMatchObject({ name: 'tasks.sweepLostRuns', expression: '*/5 * * * * *', track: false });
    expect(sweep?.lockTtlMs).toBeLessThanOrEqual(LOST_RUN_SWEEP_SECONDS * 1_000);
    expect(LOST_RUN_SWEEP_SECONDS * 1_000).toBe(SWEEP_INTERVAL_MS);
    const faster = new CronMaintenance(null as never, null as never, { ...DEFAULT_TASKS_OPTIONS, cronSweepIntervalMs: 1_000 });
    expect(faster.definitions()[0].metadata).toMatchObject({ expression: '*/1 * * * * *', lockTtlMs: 1_000 });
  });
});
