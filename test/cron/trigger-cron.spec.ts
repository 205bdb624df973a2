import { afterEach, describe, expect, it } from 'vitest';
import { Module } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { CronRegistry, UnknownCronError, type CronRunOutcome } from 'nestjs-tasks';
import { ExecutionRecorder, ManualCron } from '../fixtures/cron-fixture/cron-fixtures.js';
import { closeAll, createTasksApp, rejectionOf } from '../support/in-process.js';
import { cronScenarios } from '../support/cron.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

const MANUAL = 'fixture.manual';

@Module({ providers: [ExecutionRecorder, ManualCron] })
class ManualCronModule {}

// An in-process producer (like the api) triggers; a real cron fixture worker process runs the job.
/** The outcome of a run that executed (fails the test otherwise). */
function completed(outcome: CronRunOutcome): Extract<CronRunOutcome, { status: 'COMPLETED' }> {
  if (outcome.status !== 'COMPLETED') throw new Error(`expected a COMPLETED run, got ${JSON.stringify(outcome)}`);
  return outcome;
}

describe('CronRegistry.trigger', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();
  let producer: TestingModule | undefined;
  afterEach(async () => {
    await closeAll([producer]);
    producer = undefined;
  });

  it('runs a cron job now through the same lock and run tracking, recorded with trigger "manual"', async () => {
    const s = await scenarios.create('cron_trigger');
    const worker = await s.startWorker(['manual']);
    producer = await createTasksApp({ tasks: { prefix: s.prefix }, imports: [ManualCronModule] });
    const client = producer.get(CronRegistry);
    const trigger = async () => (await client.trigger(MANUAL)).waitResult({ timeoutMs: 15_000 });

    const first = completed(await trigger());
    expect(first).toMatchObject({ status: 'COMPLETED', runId: expect.any(Number) });
    expect(first.result).toEqual({ runId: first.runId, trigger: 'manual' });

    // The same lock: while something else holds it, the triggered run is SKIPPED and does not execute.
    const lockKey = `${s.prefix}:cron-lock:${MANUAL}`;
    await s.redis().set(lockKey, 'held-by-the-test', 'PX', 30_000);
    await expect(trigger()).resolves.toEqual({ status: 'SKIPPED', reason: 'Skipped: an earlier run still holds the lock' });
    expect(await s.redis().get(lockKey)).toBe('held-by-the-test');
    await s.redis().del(lockKey);

    const second = completed(await trigger());
    expect(second.status).toBe('COMPLETED');
    expect(second.runId).toBeGreaterThan(first.runId as number);

    const rows = await s.runs(MANUAL);
    expect(rows.map(({ status, trigger: how }) => ({ status, trigger: how }))).toEqual([
      { status: 'COMPLETED', trigger: 'manual' },
      { status: 'SKIPPED', trigger: 'manual' },
      { status: 'COMPLETED', trigger: 'manual' },
    ]);
    expect(rows[0]).toMatchObject({ id: first.runId, result: { runId: first.runId, trigger: 'manual' }, error: null });
    expect(rows[2]).toMatchObject({ id: second.runId });
    const executions = await s.executions(MANUAL);
    expect(executions.map((e) => ({ runId: e.runId, trigger: e.trigger, pid: e.pid }))).toEqual([
      { runId: first.runId, trigger: 'manual', pid: worker.pid },
      { runId: second.runId, trigger: 'manual', pid: worker.pid },
    ]);
  });

  it('rejects an unknown cron name, listing the known ones', async () => {
    const s = await scenarios.create('cron_trigger_unknown');
    producer = await createTasksApp({ tasks: { prefix: s.prefix }, imports: [ManualCronModule] });
    const error = await rejectionOf(producer.get(CronRegistry).trigger('fixture.nope'));
    expect(error).toBeInstanceOf(UnknownCronError);
    expect(error.message).toContain('"fixture.nope"');
    expect(error.message).toContain(`"${MANUAL}"`);
  });
});
