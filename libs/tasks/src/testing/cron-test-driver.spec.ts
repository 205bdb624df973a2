import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHook } from 'node:async_hooks';
import { Injectable, type Provider, type Type } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cron, type CronOptions } from '../cron/cron.decorator.js';
import type { CronContext } from '../cron/cron-context.js';
import { CronSchedule } from '../cron/cron-schedule.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { CronLockLostError } from '../cron/cron-abort.js';
import { TaskCatalog } from '../task/task.catalog.js';
import { TasksExplorer } from '../module/tasks.explorer.js';
import { CronRegistry } from '../client/cron.registry.js';
import { CronRunsService } from '../tracking/cron-runs.service.js';
import { CronRunStatus } from '../tracking/cron-run-status.js';
import { RunLogContext } from '../observability/run-log-context.js';
import { TestingRunLogContext } from './testing-run-log-context.js';
import { TasksEvents } from '../events/tasks-events.js';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import { resolveTasksOptions } from '../options/resolve-tasks-options.js';
import type { TasksModuleOptions } from '../options/tasks-options.interface.js';
import { InternalCronError, UnknownCronError } from '../errors/tasks.errors.js';
import { WorkerShutdownAbort } from '../task/job-abort.js';
import { cronTestingProviders } from './cron-testing.providers.js';
import { CronTestDriver, type CronAttempt } from './cron-test-driver.js';
import { FAKE_CLOCK_START, FakeClock } from './fake-clock.js';
import type { CronRun } from './in-memory-run-store.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
// A tick of every expression below.
const T0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (offsetMs: number) => new Date(T0 + offsetMs);
const ticksOf = (runs: readonly CronRun[]) => runs.map((run) => run.scheduledAt.toISOString());
const iso = (ms: number) => new Date(ms).toISOString();

/** A promise the test resolves: what a blocked handler waits for. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

// The cron side of the kit in a plain Nest testing module: discovery of the
// app's @Cron methods, a pass-through run log (no nestjs-pino) and the lifecycle events.
async function boot(crons: Type<unknown>, options: TasksModuleOptions = {}, extra: Provider[] = []): Promise<{ app: TestingModule; driver: CronTestDriver }> {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [
      crons,
      TaskCatalog,
      CronCatalog,
      TasksExplorer,
      { provide: TASKS_OPTIONS, useValue: resolveTasksOptions({ prefix: 'kit', ...options }) },
      { provide: RunLogContext, useClass: TestingRunLogContext },
      TasksEvents,
      { provide: FAKE_CLOCK_START, useValue: T0 },
      ...cronTestingProviders,
      ...extra,
    ],
  }).compile();
  const app = await moduleRef.init();
  opened.push(app);
  return { app, driver: app.get(CronTestDriver) };
}

const opened: TestingModule[] = [];
afterEach(async () => {
  for (const app of opened.splice(0)) await app.close();
});

/** A cron whose handler each test steers: it records its contexts and runs `behaviour`. */
function cronClass(expression: string, options: CronOptions = {}) {
  @Injectable()
  class Jobs {
    readonly contexts: CronContext[] = [];
    behaviour: (ctx: CronContext) => Promise<unknown> = () => Promise.resolve({ deleted: 42 });

    @Cron(expression, { name: 'cleanup', ...options })
    async cleanup(ctx: CronContext): Promise<unknown> {
      this.contexts.push(ctx);
      return this.behaviour(ctx);
    }
  }
  return Jobs;
}

describe('crons under the fake clock', () => {
  it('fires exactly the ticks in (now, target]: the start excluded, the target included', async () => {
    const Jobs = cronClass('*/5 * * * *');
    const { app, driver } = await boot(Jobs);
    const jobs = app.get(Jobs);

    expect(driver.now()).toEqual(at(0));
    expect(await driver.advanceBy(5 * MINUTE - 1)).toEqual([]);
    const first = await driver.advanceBy(1);
    expect(ticksOf(first)).toEqual([iso(T0 + 5 * MINUTE)]);
    expect(first[0]).toMatchObject({ status: CronRunStatus.COMPLETED, result: { deleted: 42 }, trigger: 'schedule', attempt: 1, jobName: 'cleanup' });

    const more = await driver.advanceTo(at(30 * MINUTE));
    expect(ticksOf(more)).toEqual([10, 15, 20, 25, 30].map((m) => iso(T0 + m * MINUTE)));
    expect(driver.now()).toEqual(at(30 * MINUTE));
    expect(ticksOf(driver.runsOf('cleanup'))).toEqual([5, 10, 15, 20, 25, 30].map((m) => iso(T0 + m * MINUTE)));

    // The handler saw the production CronContext: its row, a fencing token, the tick, a signal.
    expect(jobs.contexts).toHaveLength(6);
    const [ctx] = jobs.contexts;
    expect(ctx).toMatchObject({ jobName: 'cleanup', runId: first[0].id, fencingToken: first[0].fencingToken, trigger: 'schedule', attempt: 1 });
    expect(ctx.scheduledAt).toEqual(at(5 * MINUTE));
    expect(ctx.signal).toBeInstanceOf(AbortSignal);
    expect(ctx.signal.aborted).toBe(false);
  });

  it('hands out a fresh fencing token to every run, each larger than the one before', async () => {
    const { driver } = await boot(cronClass('* * * * *'));
    await driver.advanceBy(10 * MINUTE);
    const tokens = driver.runsOf('cleanup').map((run) => run.fencingToken as number);
    expect(tokens).toHaveLength(10);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
    expect(new Set(driver.runsOf('cleanup').map((run) => run.id)).size).toBe(10);
  });

  it("records a tick SKIPPED while the previous run still holds the lock (overlap: 'skip')", async () => {
    const Jobs = cronClass('*/5 * * * *');
    const { app, driver } = await boot(Jobs);
    const jobs = app.get(Jobs);
    const blocker = gate();
    jobs.behaviour = () => blocker.promise.then(() => 'first done');

    const [running] = await driver.advanceBy(5 * MINUTE);
    expect(running).toMatchObject({ status: CronRunStatus.RUNNING, scheduledAt: at(5 * MINUTE) });
    jobs.behaviour = () => Promise.resolve('later');

    // The advance wrote the SKIPPED row, and the running one's heartbeats.
    const written = await driver.advanceBy(5 * MINUTE);
    expect(written.map((run) => run.status)).toEqual([CronRunStatus.RUNNING, CronRunStatus.SKIPPED]);
    expect(written[1]).toMatchObject({ status: CronRunStatus.SKIPPED, scheduledAt: at(10 * MINUTE), reason: 'Skipped: an earlier run still holds the lock', fencingToken: null });

    blocker.open();
    await driver.advanceBy(5 * MINUTE);
    expect(driver.runsOf('cleanup').map((run) => [run.status, run.result])).toEqual([
      [CronRunStatus.COMPLETED, 'first done'],
      [CronRunStatus.SKIPPED, null],
      [CronRunStatus.COMPLETED, 'later'],
    ]);
    // A long run heartbeats on the fake clock: its row's heartbeat moved while it was blocked.
    const first = driver.runsOf('cleanup')[0];
    expect(first.heartbeatAt?.getTime()).toBeGreaterThan(first.startedAt?.getTime() as number);
  });

  it("lets one tick wait for the run going and skips any further one (overlap: 'bufferOne'), polling on the fake clock", async () => {
    const Jobs = cronClass('*/5 * * * *', { overlap: 'bufferOne' });
    const { app, driver } = await boot(Jobs);
    const jobs = app.get(Jobs);
    const blocker = gate();
    jobs.behaviour = () => blocker.promise.then(() => 'first');

    await driver.advanceBy(5 * MINUTE);
    jobs.behaviour = (ctx) => Promise.resolve(`buffered ${ctx.scheduledAt.toISOString()}`);
    // The tick of 10:10 waits (no row yet); the one of 10:15 finds the place taken.
    await driver.advanceBy(10 * MINUTE);
    expect(driver.runsOf('cleanup').map((run) => [run.scheduledAt.toISOString(), run.status, run.reason])).toEqual([
      [iso(T0 + 5 * MINUTE), CronRunStatus.RUNNING, null],
      [iso(T0 + 15 * MINUTE), CronRunStatus.SKIPPED, "Skipped: another tick already waits for it (overlap: 'bufferOne')"],
    ]);
    expect(driver.running).toBe(2);

    blocker.open();
    // The waiting tick looks again within 250 ms of fake time, and starts.
    const started = await driver.advanceBy(250);
    const buffered = started.find((run) => run.scheduledAt.getTime() === T0 + 10 * MINUTE);
    expect(buffered).toMatchObject({ status: CronRunStatus.COMPLETED, result: `buffered ${iso(T0 + 10 * MINUTE)}` });
    expect(buffered?.startedAt).toEqual(at(15 * MINUTE + 250));
    expect(driver.running).toBe(0);
  });

  describe('a worker outage: the backlog is judged by the catch-up policy when the worker starts', () => {
    // Six ticks (10:05 … 10:30) wait; the worker comes back at 10:30:20.
    async function outage(catchUp: CronOptions['catchUp'], options: TasksModuleOptions = {}): Promise<CronRun[]> {
      const { driver } = await boot(cronClass('*/5 * * * *', { catchUp }), options);
      driver.stopWorker();
      expect(await driver.advanceTo(at(30 * MINUTE + 20 * SECOND))).toEqual([]);
      expect(driver.backlog).toBe(6);
      const runs = await driver.startWorker();
      expect(driver.backlog).toBe(0);
      expect(runs).toEqual(driver.runsOf('cleanup'));
      return runs;
    }
    const superseded = (minute: number) => `Missed: superseded by the tick of ${iso(T0 + (minute + 5) * MINUTE)}, due before this one could start`;

    it("'skip': every tick is MISSED, the older superseded and the newest past the grace", async () => {
      const runs = await outage('skip');
      expect(runs.map((run) => [run.status, run.reason])).toEqual([
        ...[5, 10, 15, 20, 25].map((m) => [CronRunStatus.MISSED, superseded(m)]),
        [CronRunStatus.MISSED, "Missed: 20000 ms late, past the catch-up grace of 10000 ms (catchUp: 'skip')"],
      ]);
    });

    it("'latest': only the newest tick runs", async () => {
      const runs = await outage('latest');
      expect(runs.map((run) => [run.status, run.reason])).toEqual([
        ...[5, 10, 15, 20, 25].map((m) => [CronRunStatus.MISSED, superseded(m)]),
        [CronRunStatus.COMPLETED, null],
      ]);
    });

    it('{ windowMs }: the ticks within the window run, the older are MISSED', async () => {
      const runs = await outage({ windowMs: 10 * MINUTE }, { cronConcurrency: 1 });
      const late = (minute: number) => `Missed: ${30 * MINUTE + 20 * SECOND - minute * MINUTE} ms late, past its catch-up window of 600000 ms`;
      expect(runs.map((run) => [run.status, run.reason])).toEqual([
        ...[5, 10, 15, 20].map((m) => [CronRunStatus.MISSED, late(m)]),
        [CronRunStatus.COMPLETED, null],
        [CronRunStatus.COMPLETED, null],
      ]);
    });
  });

  it('pauses through CronRegistry: no rows while paused, none replayed, ticks again after resume', async () => {
    const { app, driver } = await boot(cronClass('*/5 * * * *'));
    const registry = app.get(CronRegistry);
    await driver.advanceBy(5 * MINUTE);

    const info = await registry.pause('cleanup', { reason: 'migrating', by: 'alice' });
    expect(info.paused).toEqual({ reason: 'migrating', by: 'alice', since: at(5 * MINUTE) });
    expect(await driver.advanceBy(20 * MINUTE)).toEqual([]);

    await registry.resume('cleanup');
    await driver.advanceBy(5 * MINUTE);
    expect(ticksOf(driver.runsOf('cleanup'))).toEqual([iso(T0 + 5 * MINUTE), iso(T0 + 30 * MINUTE)]);
    const listed = await registry.get('cleanup');
    expect(listed).toMatchObject({ paused: null, lastTick: at(30 * MINUTE), lastRun: { status: CronRunStatus.COMPLETED, scheduledAt: at(30 * MINUTE) } });
    expect(listed?.nextTicks[0]).toEqual(at(35 * MINUTE));
  });

  it('does not run a tick enqueued before the pause (outcome PAUSED, no row)', async () => {
    const { app, driver } = await boot(cronClass('*/5 * * * *', { catchUp: 'latest' }));
    driver.stopWorker();
    await driver.advanceBy(5 * MINUTE);
    await app.get(CronRegistry).pause('cleanup');
    expect(await driver.startWorker()).toEqual([]);
    expect(driver.attemptsOf('cleanup').map((attempt) => attempt.outcome)).toEqual([{ status: 'PAUSED' }]);
  });

  it('records FAILED with the error, and a retry (attempts: 2) reclaims the row with a larger token after the backoff', async () => {
    const Jobs = cronClass('0 * * * *', { attempts: 2 });
    const { app, driver } = await boot(Jobs, { defaultBackoff: { type: 'fixed', delayMs: 30 * SECOND } });
    const jobs = app.get(Jobs);
    jobs.behaviour = () => Promise.reject(new Error('the export API answered 503'));

    const [failed] = await driver.advanceBy(HOUR);
    expect(failed).toMatchObject({ status: CronRunStatus.FAILED, attempt: 1, reason: null });
    expect(failed.error).toContain('Error: the export API answered 503');
    expect(failed.error).toContain('cron-test-driver.spec.ts');

    jobs.behaviour = () => Promise.resolve('second time lucky');
    expect(await driver.advanceBy(30 * SECOND - 1)).toEqual([]);
    const [retried] = await driver.advanceBy(1);
    expect(retried).toMatchObject({ id: failed.id, status: CronRunStatus.COMPLETED, attempt: 2, result: 'second time lucky', startedAt: at(HOUR + 30 * SECOND) });
    expect(retried.fencingToken).toBeGreaterThan(failed.fencingToken as number);
    expect(driver.attemptsOf('cleanup').map((attempt) => [attempt.attempt, attempt.outcome.status])).toEqual([
      [1, 'FAILED'],
      [2, 'COMPLETED'],
    ]);
  });

  it('aborts ctx.signal with CronLockLostError when the lock is lost, and records the abort', async () => {
    const Jobs = cronClass('*/5 * * * *');
    const { app, driver } = await boot(Jobs);
    const jobs = app.get(Jobs);
    jobs.behaviour = (ctx) =>
      new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('gave up')), { once: true }));
    await driver.advanceBy(5 * MINUTE);

    expect(driver.loseLock('cleanup')).toBe(true);
    expect(jobs.contexts[0].signal.reason).toBeInstanceOf(CronLockLostError);
    await driver.advanceBy(0);
    const [run] = driver.runsOf('cleanup');
    expect(run.status).toBe(CronRunStatus.FAILED);
    expect(run.reason).toMatch(/^Aborted by CronLockLostError: Lost the lock of cron job "cleanup"/);
  });

  it('runs CronRegistry.trigger() now through the same pipeline, and its handle resolves with the outcome', async () => {
    const { app, driver } = await boot(cronClass('0 3 * * *'));
    const registry = app.get(CronRegistry);
    await driver.advanceBy(90 * SECOND);
    const handle = await registry.trigger('cleanup');
    const outcome = await handle.waitResult();
    const [run] = driver.runsOf('cleanup');
    expect(outcome).toEqual({ status: 'COMPLETED', runId: run.id, fencingToken: run.fencingToken, result: { deleted: 42 } });
    expect(run).toMatchObject({ trigger: 'manual', scheduledAt: at(90 * SECOND) });
    await expect(registry.trigger('cleanUp')).rejects.toThrow(UnknownCronError);
    await expect(registry.trigger('tasks.sweepLostRuns')).rejects.toThrow(InternalCronError);
    expect(registry.nextTicks('cleanup', 2)).toEqual([new Date('2026-05-05T03:00:00.000Z'), new Date('2026-05-06T03:00:00.000Z')]);
  });

  it('answers CronRunsService from the kit’s rows, newest first', async () => {
    const { app, driver } = await boot(cronClass('*/5 * * * *'));
    await driver.advanceBy(15 * MINUTE);
    const service = app.get(CronRunsService);
    const latest = await service.latest('cleanup', 2);
    expect(latest.map((run) => run.scheduledAt)).toEqual([at(15 * MINUTE), at(10 * MINUTE)]);
    expect(typeof latest[0].id).toBe('string');
    expect(await service.byStatus(CronRunStatus.COMPLETED, 50)).toHaveLength(3);
    await expect(service.find({ job: 'nope' })).rejects.toThrow(UnknownCronError);
  });

  it('runs an untracked cron without rows: its attempts carry the outcomes', async () => {
    const { driver } = await boot(cronClass('*/5 * * * *', { track: false }));
    await driver.advanceBy(10 * MINUTE);
    expect(driver.runsOf('cleanup')).toEqual([]);
    expect(driver.attemptsOf('cleanup').map((attempt: CronAttempt) => attempt.outcome)).toEqual([
      { status: 'COMPLETED', result: { deleted: 42 } },
      { status: 'COMPLETED', result: { deleted: 42 } },
    ]);
    expect(() => driver.runsOf('cleanUp')).toThrow(UnknownCronError);
  });

  it.each([
    ['spring forward', '2026-03-29'],
    ['fall back', '2026-10-25'],
  ])('fires the ticks CronSchedule computes through a DST change in Europe/Berlin (%s)', async (_change, day) => {
    const start = Date.parse(`${day}T00:00:00.000Z`) - 2 * HOUR;
    const end = start + 26 * HOUR;
    for (const expression of ['30 2 * * *', '0 * * * *', '*/30 * * * *', '0 */6 * * *']) {
      const { driver } = await boot(cronClass(expression, { timeZone: 'Europe/Berlin' }), {}, [{ provide: FAKE_CLOCK_START, useValue: start }]);
      await driver.advanceTo(end);
      const schedule = new CronSchedule(expression, 'Europe/Berlin');
      const expected: string[] = [];
      for (let tick = schedule.nextTick(start); tick <= end; tick = schedule.nextTick(tick)) expected.push(iso(tick));
      expect(ticksOf(driver.runsOf('cleanup')), expression).toEqual(expected);
      expect(driver.runsOf('cleanup').every((run) => run.status === CronRunStatus.COMPLETED)).toBe(true);
    }
  });

  it('fires the documented instants on the DST days of 2026 in Europe/Berlin', async () => {
    const start = Date.parse('2026-03-28T12:00:00.000Z');
    const { driver } = await boot(cronClass('30 2 * * *', { timeZone: 'Europe/Berlin' }), {}, [{ provide: FAKE_CLOCK_START, useValue: start }]);
    await driver.advanceTo(new Date('2026-03-29T12:00:00.000Z'));
    // 02:30 does not exist on 29 March: once, at 03:00 local.
    expect(ticksOf(driver.runsOf('cleanup'))).toEqual(['2026-03-29T01:00:00.000Z']);
    await driver.advanceTo(new Date('2026-10-25T12:00:00.000Z'));
    // 02:30 occurs twice on 25 October: once, at the first (CEST).
    expect(ticksOf(driver.runsOf('cleanup')).at(-1)).toBe('2026-10-25T00:30:00.000Z');

    const hourly = await boot(cronClass('0 * * * *', { timeZone: 'Europe/Berlin' }), {}, [{ provide: FAKE_CLOCK_START, useValue: Date.parse('2026-10-24T23:30:00.000Z') }]);
    await hourly.driver.advanceTo(new Date('2026-10-25T02:00:00.000Z'));
    // Once per real hour: 00:00Z and 01:00Z are both 02:00 local.
    expect(ticksOf(hourly.driver.runsOf('cleanup'))).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z']);
  });

  it("goes on beside the test's own fake timers (vi.useFakeTimers)", async () => {
    const Jobs = cronClass('*/5 * * * *');
    const { app, driver } = await boot(Jobs);
    vi.useFakeTimers();
    try {
      const blocker = gate();
      app.get(Jobs).behaviour = () => blocker.promise;
      // A run that stays blocked makes the advance wait for it in real time: faked timers would never end that wait.
      const written = await driver.advanceBy(10 * MINUTE);
      expect(written.map((run) => run.status)).toEqual([CronRunStatus.RUNNING, CronRunStatus.SKIPPED]);
      blocker.open();
      await driver.advanceBy(0);
      expect(driver.runsOf('cleanup')[0].status).toBe(CronRunStatus.COMPLETED);
    } finally {
      vi.useRealTimers();
    }
  });

  it('leaves no timer or handle behind at close, and hands a run going back at shutdown', async () => {
    const timers = liveTimers();
    const Jobs = cronClass('*/5 * * * *', { overlap: 'bufferOne' });
    const { app, driver } = await boot(Jobs, {}, [StuckJobs]);
    const jobs = app.get(Jobs);
    // Gives up when the worker shuts down; the buffered tick waits behind it, a third tick is skipped.
    jobs.behaviour = (ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true }));
    await driver.advanceBy(15 * MINUTE);
    // Beside them, a run that ignores its signal and never ends: its heartbeats must not outlive the app.
    expect(driver.running).toBe(3);
    opened.splice(opened.indexOf(app), 1);
    await app.close();

    const [run] = driver.runsOf('cleanup');
    expect(run).toMatchObject({ status: CronRunStatus.FAILED, handedBack: true });
    expect(run.reason).toMatch(/^Handed back at shutdown after \d+ ms: another worker runs the tick again$/);
    expect(jobs.contexts[0].signal.reason).toBeInstanceOf(WorkerShutdownAbort);
    expect(driver.attemptsOf('cleanup').map((attempt) => attempt.outcome.status)).toEqual(['SKIPPED', 'HANDED_BACK', 'HANDED_BACK']);
    expect(driver.running).toBe(1);
    await expect(driver.advanceBy(MINUTE)).rejects.toThrow('The testing kit was closed');
    expect(app.get(FakeClock).pendingTimers).toBe(0);
    expect(await timers.stop()).toEqual([]);
  });
});

@Injectable()
class StuckJobs {
  @Cron('*/15 * * * *', { name: 'stuck' })
  stuck(): Promise<never> {
    return new Promise<never>(() => undefined);
  }
}

/**
 * Every timer and immediate created from now on (unref'd ones too, which no
 * handle count shows); `stop()` lists those still alive once the queued
 * immediates have run.
 */
function liveTimers(): { stop(): Promise<string[]> } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout' || type === 'Immediate') live.set(id, type);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    async stop() {
      const before = new Set(live.keys());
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      hook.disable();
      return [...live].filter(([id]) => before.has(id)).map(([, type]) => type);
    },
  };
}
