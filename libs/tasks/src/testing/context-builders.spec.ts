import { describe, expect, it } from 'vitest';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import type { TaskContext } from '../task/task-context.interface.js';
import type { CronContext } from '../cron/cron-context.js';
import { cronContext, taskContext } from './context-builders.js';

/** A task method as users write them: it reads its context and reports progress. */
async function importRows(payload: { rows: number }, ctx: TaskContext): Promise<string> {
  for (let row = 1; row <= payload.rows; row++) {
    ctx.signal.throwIfAborted();
    await ctx.updateProgress({ row });
  }
  return `${ctx.taskName} ${ctx.jobId} attempt ${ctx.attempt}/${ctx.maxAttempts}`;
}

describe('taskContext()', () => {
  it('builds a TaskContext with defaults production could give, and records progress', async () => {
    const ctx = taskContext({ taskName: 'importRows', jobId: 'import-7', attempt: 2 });
    await expect(importRows({ rows: 2 }, ctx)).resolves.toBe('importRows import-7 attempt 2/3');
    expect(ctx.progressReports).toEqual([{ row: 1 }, { row: 2 }]);
    expect(ctx.enqueuedAt).toBeInstanceOf(Date);
    expect(ctx.signal.aborted).toBe(false);
  });

  it('gives each context its own job id unless one is given', () => {
    expect(taskContext().jobId).not.toBe(taskContext().jobId);
  });

  it('aborts its signal on abort(), with the reason, as a timeout or a cancellation does', async () => {
    const ctx = taskContext();
    const reason = new Error('timed out');
    ctx.abort(reason);
    expect(ctx.signal.aborted).toBe(true);
    await expect(importRows({ rows: 1 }, ctx)).rejects.toBe(reason);
  });

  it('follows a signal it is given', () => {
    const controller = new AbortController();
    const ctx = taskContext({ signal: controller.signal });
    controller.abort('shutdown');
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toBe('shutdown');
  });

  it('still calls an updateProgress it is given', async () => {
    const seen: unknown[] = [];
    const ctx = taskContext({ updateProgress: async (p) => void seen.push(p) });
    await ctx.updateProgress(40);
    expect(seen).toEqual([40]);
    expect(ctx.progressReports).toEqual([40]);
  });

  it('refuses an attempt production cannot give', () => {
    expect(() => taskContext({ attempt: 4, maxAttempts: 3 })).toThrow(TasksConfigurationError);
    expect(() => taskContext({ attempt: 0 })).toThrow('taskContext(): attempt 0 is not a positive integer');
    expect(() => taskContext({ maxAttempts: 1.5 })).toThrow(TasksConfigurationError);
    expect(taskContext({ attempt: 5 }).maxAttempts).toBe(5);
  });
});

describe('cronContext()', () => {
  /** A cron method that writes with its fencing token, as the docs advise. */
  function nightly(ctx: CronContext, store: { token: number }): boolean {
    if (ctx.fencingToken <= store.token) return false;
    store.token = ctx.fencingToken;
    return true;
  }

  it('builds a CronContext whose fencing tokens grow, as production’s do', () => {
    const store = { token: 0 };
    const first = cronContext({ jobName: 'nightly' });
    const second = cronContext({ jobName: 'nightly' });
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(nightly(second, store)).toBe(true);
    // The older run, resumed late, is refused.
    expect(nightly(first, store)).toBe(false);
    expect(first).toMatchObject({ jobName: 'nightly', trigger: 'schedule', attempt: 1 });
    expect(first.runId).toBeGreaterThan(0);
    expect(first.scheduledAt).toBeInstanceOf(Date);
  });

  it('keeps later tokens above one it was given', () => {
    const given = cronContext({ fencingToken: 1_000_000 });
    expect(given.fencingToken).toBe(1_000_000);
    expect(cronContext().fencingToken).toBe(1_000_001);
  });

  it('aborts its signal on abort(), as a lost lock does', () => {
    const ctx = cronContext({ trigger: 'manual', scheduledAt: new Date(0) });
    ctx.abort(new Error('lock lost'));
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx).toMatchObject({ trigger: 'manual', scheduledAt: new Date(0) });
    expect(() => cronContext({ attempt: -1 })).toThrow(TasksConfigurationError);
  });
});
