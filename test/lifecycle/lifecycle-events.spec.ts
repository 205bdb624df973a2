import { describe, expect, it, onTestFinished } from 'vitest';
import { Redis } from 'ioredis';
import { TasksEvents, type TasksEventMap } from 'nestjs-tasks';
import { TASKS_QUEUE } from '#nestjs-tasks-internal';
import { lifecycleEventsKey, type RecordedLifecycleEvent } from '../fixtures/lifecycle-recorder.js';
import { startWorkerAndProducer, tasksQueue } from '../support/in-process.js';
import { cronScenarios, withStatus, type CronRunRow, type CronScenario } from '../support/cron.js';
import { REDIS_URL, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait-for.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };
// The fixture apps subscribe to every event through the public TasksEvents and push each to a Redis list.
const RECORD = { FIXTURE_LIFECYCLE: '1' };

/** The events the fixture apps of `prefix` recorded, in the order each process heard them. */
async function recorded(prefix: string): Promise<RecordedLifecycleEvent[]> {
  const redis = new Redis(REDIS_URL);
  try {
    return (await redis.lrange(lifecycleEventsKey(prefix), 0, -1)).map((line) => JSON.parse(line) as RecordedLifecycleEvent);
  } finally {
    redis.disconnect();
  }
}

/** Name and payload, the payload's durations checked and left out (they differ per run). */
function shape({ name, event }: RecordedLifecycleEvent): { name: string; event: Record<string, unknown> } {
  const { durationMs, ...rest } = event;
  if (durationMs !== undefined) expect(durationMs, `${name} durationMs`).toBeGreaterThanOrEqual(0);
  return { name, event: rest };
}

describe('lifecycle events of tasks, heard by a subscriber in a worker process', PROCESS_TIMEOUT, () => {
  it('a task that fails once then succeeds: started, retried, started, finished, and nothing else', async () => {
    const prefix = uniquePrefix('lifecycle_retry');
    const apps = await startWorkerAndProducer(prefix, { workerEnv: RECORD });
    onTestFinished(() => apps.stop());
    // The producer subscribes in this process, as an api would.
    const enqueued: TasksEventMap['task.enqueued'][] = [];
    apps.producer.get(TasksEvents).on('task.enqueued', (event) => enqueued.push(event));

    const handle = await apps.client.enqueue('flaky', { failTimes: 1 });
    expect(await handle.waitResult({ timeoutMs: 30_000 })).toEqual({ attempt: 2 });

    expect(enqueued).toEqual([{ task: 'flaky', queue: TASKS_QUEUE, jobId: handle.id }]);
    const attempt = (n: number) => ({ task: 'flaky', queue: TASKS_QUEUE, jobId: handle.id, attempt: n, maxAttempts: 3 });
    const events = await waitFor(
      async () => {
        const all = await recorded(prefix);
        return all.some((e) => e.name === 'task.finished') ? all : undefined;
      },
      { what: 'the worker to record task.finished', intervalMs: 100 },
    );
    expect(new Set(events.map((e) => e.pid))).toEqual(new Set([apps.worker.pid]));
    expect(events.map(shape)).toEqual([
      { name: 'task.started', event: { ...attempt(1), manualRetry: false } },
      { name: 'task.retried', event: { ...attempt(1), errorType: 'Error' } },
      { name: 'task.started', event: { ...attempt(2), manualRetry: false } },
      { name: 'task.finished', event: { ...attempt(2), status: 'completed' } },
    ]);
    // No payload value, result or error message in any event.
    expect(JSON.stringify(events)).not.toContain('flaky failure');
  });

  it('a task still running when its worker shuts down: started, then handed back, and no end', async () => {
    const prefix = uniquePrefix('lifecycle_handback');
    const apps = await startWorkerAndProducer(prefix, { workerEnv: { ...RECORD, TASKS_SHUTDOWN_GRACE_MS: '300' } });
    onTestFinished(() => apps.stop());
    const handle = await apps.client.enqueue('sleepy', { ms: 60_000, id: 'held' });
    await waitFor(async () => (await recorded(prefix)).some((e) => e.name === 'task.started'), { what: 'the job to start', intervalMs: 100 });

    apps.worker.signal('SIGTERM');
    await expect(apps.worker.exited).resolves.toBe(0);

    const job = await tasksQueue(apps.producer).getJob(handle.id);
    expect(await job?.getState()).toBe('waiting');
    expect((await recorded(prefix)).map(shape)).toEqual([
      { name: 'task.started', event: { task: 'sleepy', queue: TASKS_QUEUE, jobId: handle.id, attempt: 1, maxAttempts: 1, manualRetry: false } },
      { name: 'job.handedBack', event: { queue: TASKS_QUEUE, jobId: handle.id, jobName: 'sleepy' } },
    ]);
  });
});

/** What a worker's subscriber must have heard of one tick, by its row. */
function expectedOfRow(row: CronRunRow): { name: string; event: Record<string, unknown> }[] {
  const run = { cron: row.jobName, scheduledAt: new Date(row.scheduledAt).toISOString(), trigger: 'schedule', attempt: 1 };
  switch (row.status) {
    case 'COMPLETED':
      return [
        { name: 'cron.run.claimed', event: { ...run, runId: row.id, fencingToken: row.fencingToken, resumed: false } },
        { name: 'cron.run.finished', event: { ...run, runId: row.id, fencingToken: row.fencingToken, recorded: true, status: 'COMPLETED' } },
      ];
    case 'SKIPPED':
      return [{ name: 'cron.run.skipped', event: { ...run, reason: row.reason, recorded: true } }];
    case 'MISSED':
      return [{ name: 'cron.tick.missed', event: { cron: row.jobName, scheduledAt: run.scheduledAt, cause: 'late-start', reason: row.reason, recorded: true } }];
    default:
      throw new Error(`unexpected row ${JSON.stringify(row)}`);
  }
}

/** The events of cron `job` the worker processes heard, by tick (ISO). */
async function workerEventsByTick(s: CronScenario, job: string, workerPids: readonly number[]): Promise<Map<string, { name: string; event: Record<string, unknown> }[]>> {
  const byTick = new Map<string, { name: string; event: Record<string, unknown> }[]>();
  for (const record of await recorded(s.prefix)) {
    if (!workerPids.includes(record.pid) || record.event.cron !== job) continue;
    const tick = record.event.scheduledAt as string;
    byTick.set(tick, [...(byTick.get(tick) ?? []), shape(record)]);
  }
  return byTick;
}

function expectedByTick(rows: readonly CronRunRow[]): Map<string, { name: string; event: Record<string, unknown> }[]> {
  return new Map(rows.map((row) => [new Date(row.scheduledAt).toISOString(), expectedOfRow(row)]));
}

describe('lifecycle events of crons, heard by subscribers in a worker and a scheduler process', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it('a tick that finds the run going is skipped; every other tick is claimed and finished; the scheduler enqueued each tick once', async () => {
    const s = await scenarios.create('lifecycle_skip');
    const worker = await s.startWorker(['slow'], { env: RECORD });
    const scheduler = await s.startScheduler(['slow'], { env: RECORD });
    await s.waitForRuns('fixture.slow', (rows) => withStatus(rows, 'SKIPPED').length >= 2 && withStatus(rows, 'COMPLETED').length >= 1, '2 skipped ticks', 60_000);
    const { rows } = await s.settle('fixture.slow');

    expect(await workerEventsByTick(s, 'fixture.slow', [worker.pid])).toEqual(expectedByTick(rows));
    const fromScheduler = (await recorded(s.prefix)).filter((e) => e.pid === scheduler.pid);
    const enqueued = fromScheduler.filter((e) => e.name === 'cron.tick.enqueued' && e.event.cron === 'fixture.slow');
    expect(enqueued.map((e) => e.event.scheduledAt)).toEqual(rows.map((row) => new Date(row.scheduledAt).toISOString()));
    // It took the lease once, and gave it up when it stopped.
    const lease = fromScheduler.filter((e) => e.name === 'scheduler.lease.changed').map((e) => e.event.held);
    expect(lease).toEqual([true, false]);
    expect(fromScheduler.filter((e) => e.name === 'cron.tick.missed')).toEqual([]);
    // The run log listens too: once claimed, a run's lines carry its row and fencing token.
    for (const row of withStatus(rows, 'COMPLETED')) {
      const tick = new Date(row.scheduledAt).toISOString();
      const line = await worker.waitForLog((l) => l.scheduledAt === tick && l.msg.startsWith('Cron job fixture.slow completed'), `the completed line of ${tick}`);
      expect(line).toMatchObject({ jobName: 'fixture.slow', runId: row.id, fencingToken: row.fencingToken });
    }
  });

  it('ticks that waited out a worker outage are missed, found late by the worker that came back; the newest run', async () => {
    const s = await scenarios.create('lifecycle_missed');
    const env = { ...RECORD, FIXTURE_CATCH_UP: 'skip' };
    const first = await s.startWorker(['catchUp'], { env });
    await s.startScheduler(['catchUp'], { env });
    await s.waitForRuns('fixture.catchUp', (rows) => withStatus(rows, 'COMPLETED').length >= 1, 'a completed run');
    await s.stop(first);
    await s.poll(
      async () => ((await s.cronQueue().getWaiting()).filter((job) => job.name === 'fixture.catchUp').length >= 4 ? true : undefined),
      { what: '4 ticks waiting', timeoutMs: 30_000 },
    );
    const second = await s.startWorker(['catchUp'], { env });
    const { rows } = await s.settle('fixture.catchUp');

    expect(withStatus(rows, 'MISSED').length).toBeGreaterThanOrEqual(2);
    expect(await workerEventsByTick(s, 'fixture.catchUp', [first.pid, second.pid])).toEqual(expectedByTick(rows));
    // The worker that came back found every MISSED tick.
    const missed = (await recorded(s.prefix)).filter((e) => e.name === 'cron.tick.missed');
    expect(new Set(missed.map((e) => e.pid))).toEqual(new Set([second.pid]));
  });
});
