import { describe, expect, it } from 'vitest';
import { cronScenarios, withStatus } from '../support/cron.js';
import { freePort } from '../support/ports.js';
import { scrape, valueOf } from '../support/metrics.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

// A cron fixture worker and scheduler with health ports: their counters agree
// exactly with the rows they wrote to cron_job_runs.
describe('cron metrics, scraped from the worker and the scheduler', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it('count runs by cron and status as recorded, tick lateness per run started, and the lease', async () => {
    const s = await scenarios.create('cron_metrics');
    const [workerPort, schedulerPort] = [await freePort(), await freePort()];
    const health = (port: number) => ({ env: { TASKS_HEALTH_PORT: String(port), TASKS_HEALTH_HOST: '127.0.0.1' } });
    const crons = ['slow', 'failing'];
    await s.startWorker(crons, health(workerPort));
    await s.startScheduler(crons, health(schedulerPort));

    await s.waitForRuns('fixture.slow', (rows) => withStatus(rows, 'COMPLETED').length >= 2, 'two completed runs of fixture.slow');
    const scheduler = await scrape(`http://127.0.0.1:${schedulerPort}/metrics`);
    expect(valueOf(scheduler, 'tasks_scheduler_leader')).toBe(1);
    expect(valueOf(scheduler, 'tasks_scheduler_lease_changes_total', { change: 'acquired' })).toBe(1);
    expect(valueOf(scheduler, 'tasks_scheduler_lease_changes_total', { change: 'lost' })).toBe(0);

    const { rows: slow } = await s.settle('fixture.slow');
    const failing = await s.runs('fixture.failing');
    const metrics = await scrape(`http://127.0.0.1:${workerPort}/metrics`);
    const runs = (cron: string, status: string) => valueOf(metrics, 'tasks_cron_runs_total', { cron, status });
    expect(withStatus(slow, 'SKIPPED').length).toBeGreaterThan(0);
    for (const status of ['COMPLETED', 'FAILED', 'SKIPPED', 'MISSED'] as const) {
      expect(runs('fixture.slow', status), `fixture.slow ${status}`).toBe(withStatus(slow, status).length);
      expect(runs('fixture.failing', status), `fixture.failing ${status}`).toBe(withStatus(failing, status).length);
    }
    expect(runs('fixture.failing', 'FAILED')).toBeGreaterThan(0);
    expect(runs('fixture.slow', 'LOST')).toBe(0);
    // One lateness observation per run that started its handler on its tick.
    const started = (rows: typeof slow) => rows.filter((row) => row.status === 'COMPLETED' || row.status === 'FAILED').length;
    expect(valueOf(metrics, 'tasks_cron_tick_lateness_seconds_count', { cron: 'fixture.slow' })).toBe(started(slow));
    expect(valueOf(metrics, 'tasks_cron_tick_lateness_seconds_count', { cron: 'fixture.failing' })).toBe(started(failing));
    // The last success is the newest COMPLETED row's, to within the time its write took.
    const lastSuccess = valueOf(metrics, 'tasks_cron_last_success_timestamp_seconds', { cron: 'fixture.slow' }) * 1_000;
    const newest = Math.max(...withStatus(slow, 'COMPLETED').map((row) => row.scheduledAt));
    expect(lastSuccess).toBeGreaterThan(newest);
    expect(valueOf(metrics, 'tasks_cron_last_success_timestamp_seconds', { cron: 'fixture.failing' })).toBe(0);
    expect(valueOf(metrics, 'tasks_cron_refused_writes_total')).toBe(0);
  });
});
