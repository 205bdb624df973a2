import { Logger, type LoggerService } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CronCatalog } from '../cron/cron.catalog.js';
import { buildCronMetadata, type CronCatchUp, type CronOptions } from '../cron/cron.decorator.js';
import type { CronJobData } from '../cron/cron-job-data.js';
import { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';
import type { RedisScheduleStore } from '../tracking/redis-schedule.store.js';
import { DEFAULT_TASKS_OPTIONS } from '../options/resolve-tasks-options.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { RedisClients } from '../redis/redis-clients.js';
import { TasksEvents } from '../events/tasks-events.js';
import { TASKS_EVENT_NAMES, type TasksEventMap } from '../events/lifecycle-events.js';
import type { CronRunStore } from '../tracking/cron-run.store.js';
import type { DeclaredSchedule } from '../tracking/schedule.store.js';
import type { PostgresScheduleStore } from '../tracking/postgres-schedule.store.js';
import { TasksClock } from '../options/tasks-clock.js';
import { CronScheduler } from './cron-scheduler.js';

// vi.useFakeTimers() replaces the global timers and the default export of
// node:timers/promises, not the named export the scheduler's retry backoff
// imports: route it through the (faked) global setTimeout so backoffs run on the fake clock.
vi.mock('node:timers/promises', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:timers/promises')>();
  return {
    ...original,
    setTimeout: <T>(delay: number, value?: T) => new Promise<T | undefined>((resolve) => globalThis.setTimeout(() => resolve(value), delay)),
  };
});

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
// A whole hour: every expression below has a tick here.
const T0 = Date.parse('2026-05-04T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const range = (from: number, to: number, step: number) => Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);

interface Add {
  readonly name: string;
  readonly tick: number;
  readonly jobId: string | undefined;
  /** Fake time of the add. */
  readonly at: number;
}

class FakeQueue {
  /** Every call of add, failed ones included. */
  readonly attempts: Add[] = [];
  readonly adds: Add[] = [];
  readonly payloads: CronJobData[] = [];
  /** Tick → how many adds of it fail before one succeeds (Infinity: all). */
  readonly failures = new Map<number, number>();

  add(name: string, data: CronJobData, opts: JobsOptions): Promise<{ id: string | undefined }> {
    const add: Add = { name, tick: data.scheduledAt, jobId: opts.jobId, at: Date.now() };
    this.attempts.push(add);
    this.payloads.push(data);
    const failing = this.failures.get(data.scheduledAt) ?? 0;
    if (failing > 0) {
      this.failures.set(data.scheduledAt, failing - 1);
      return Promise.reject(new Error('Connection is closed.'));
    }
    this.adds.push(add);
    return Promise.resolve({ id: opts.jobId });
  }
}

/** cron_schedules in memory: a pause flag and the last tick noted per cron. */
class FakeStore {
  constructor(readonly where = 'cron_schedules') {}
  connected = false;
  readonly paused = new Set<string>();
  readonly lastTicks = new Map<string, number>();
  readonly beforeTickCalls: { name: string; tick: number; next: number }[] = [];
  declared: readonly DeclaredSchedule[] = [];
  failBeforeTick = false;
  /** Runs after reconcile answered: another replica acting meanwhile. */
  afterReconcile?: () => void;

  connect(): Promise<void> {
    this.connected = true;
    return Promise.resolve();
  }

  reconcile(declared: readonly DeclaredSchedule[]): Promise<Map<string, number>> {
    this.declared = declared;
    const answer = new Map(this.lastTicks);
    this.afterReconcile?.();
    return Promise.resolve(answer);
  }

  beforeTick(name: string, tick: number, next: number): Promise<{ paused: boolean; previousTick: number | undefined }> {
    this.beforeTickCalls.push({ name, tick, next });
    if (this.failBeforeTick) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    const previousTick = this.lastTicks.get(name);
    this.lastTicks.set(name, Math.max(previousTick ?? tick, tick));
    return Promise.resolve({ paused: this.paused.has(name), previousTick });
  }

  pause(name: string): Promise<boolean> {
    this.paused.add(name);
    return Promise.resolve(true);
  }

  resume(name: string): Promise<boolean> {
    return Promise.resolve(this.paused.delete(name));
  }
}

class FakeRunStore {
  readonly missed: { name: string; tick: number; reason: string }[] = [];
  calls = 0;
  connected = false;

  connect(): Promise<void> {
    this.connected = true;
    return Promise.resolve();
  }

  recordMissed(name: string, ticks: readonly { tick: number; reason: string }[]): Promise<number[]> {
    this.calls++;
    this.missed.push(...ticks.map((t) => ({ name, tick: t.tick, reason: t.reason })));
    return Promise.resolve(ticks.map((t) => t.tick));
  }
}

/** The scheduler lease's Redis: this replica holds the lease while `leader` is set. */
class FakeRedis {
  leader = true;
  readonly scripts: string[] = [];

  eval(script: string): Promise<number> {
    this.scripts.push(script);
    return Promise.resolve(this.leader ? 1 : 0);
  }

  disconnect(): void {}
}

const logs: { level: string; message: string }[] = [];
const record = (level: string) => (message: unknown) => void logs.push({ level, message: String(message) });
const captureLogs: LoggerService = { log: record('log'), warn: record('warn'), error: record('error'), debug: record('debug'), verbose: record('verbose') };

interface CronSpec {
  readonly name: string;
  readonly expression: string;
  readonly options?: CronOptions;
}

interface Setup {
  readonly crons: readonly CronSpec[];
  readonly lastTicks?: Readonly<Record<string, number>>;
  readonly leader?: boolean;
  readonly options?: Partial<ResolvedTasksOptions>;
  readonly prepare?: (h: Omit<Harness, 'scheduler'>) => void;
}

interface Harness {
  readonly scheduler: CronScheduler;
  readonly catalog: CronCatalog;
  readonly queue: FakeQueue;
  /** cron_schedules. */
  readonly store: FakeStore;
  /** Where an app whose crons are all untracked keeps its schedules. */
  readonly redisStore: FakeStore;
  readonly runs: FakeRunStore;
  readonly redis: FakeRedis;
  /** The lifecycle events the scheduler emitted, in order. */
  readonly heard: { name: keyof TasksEventMap; event: TasksEventMap[keyof TasksEventMap] }[];
}

let current: Harness | undefined;

/** Starts a scheduler at `at` (fake time) and lets the lease answer and the boot catch-up run. */
async function boot(at: number, setup: Setup): Promise<Harness> {
  vi.useFakeTimers();
  vi.setSystemTime(at);
  const catalog = new CronCatalog();
  for (const cron of setup.crons) {
    const metadata = buildCronMetadata(`spec ${cron.name}`, cron.name, cron.expression, cron.options ?? {});
    catalog.register({ ...metadata, source: `Spec.${cron.name}`, internal: false, invoke: async () => undefined });
  }
  const queue = new FakeQueue();
  const store = new FakeStore();
  const redisStore = new FakeStore('Redis (tasks:cron-schedule:*)');
  const untracked = setup.crons.every((cron) => cron.options?.track === false);
  for (const [name, tick] of Object.entries(setup.lastTicks ?? {})) (untracked ? redisStore : store).lastTicks.set(name, tick);
  const runs = new FakeRunStore();
  const redis = new FakeRedis();
  redis.leader = setup.leader ?? true;
  const clients = { failFast: redis, describe: (error: unknown) => String(error) };
  const options: ResolvedTasksOptions = { ...DEFAULT_TASKS_OPTIONS, ...setup.options };
  const heard: Harness['heard'] = [];
  const events = new TasksEvents();
  for (const name of TASKS_EVENT_NAMES) events.on(name, (event) => heard.push({ name, event }));
  setup.prepare?.({ catalog, queue, store, redisStore, runs, redis, heard });
  const scheduler = new CronScheduler(
    catalog,
    queue as unknown as Queue<CronJobData>,
    options,
    clients as unknown as RedisClients,
    new ScheduleStoreSelector(catalog, store as unknown as PostgresScheduleStore, redisStore as unknown as RedisScheduleStore),
    runs as unknown as CronRunStore,
    events,
    new TasksClock(),
  );
  current = { scheduler, catalog, queue, store, redisStore, runs, redis, heard };
  await scheduler.startTicking();
  await vi.advanceTimersByTimeAsync(0);
  return current;
}

/** Runs the fake clock (timers included) up to `at`. */
async function runUntil(at: number): Promise<void> {
  const left = at - Date.now();
  expect(left).toBeGreaterThanOrEqual(0);
  await vi.advanceTimersByTimeAsync(left);
  expect(Date.now()).toBe(at);
}

const ticksOf = (adds: readonly Add[], name?: string) => adds.filter((a) => name === undefined || a.name === name).map((a) => a.tick);
const onTime = (adds: readonly Add[]) => adds.filter((a) => a.at !== a.tick).map((a) => `${a.name}@${iso(a.tick)} added at ${iso(a.at)}`);

beforeAll(() => Logger.overrideLogger(captureLogs));
afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));
beforeEach(() => {
  logs.length = 0;
});
afterEach(async () => {
  if (current) {
    const stopping = current.scheduler.beforeApplicationShutdown();
    // A retry backoff in progress ends on the fake clock, not on its own.
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    await stopping;
    current = undefined;
  }
  vi.useRealTimers();
});

describe('CronScheduler: ticks on time', () => {
  it('enqueues every tick at its time, once, with the tick job id, and notes each in cron_schedules first', async () => {
    const h = await boot(T0 - 500, {
      crons: [
        { name: 'every5s', expression: '*/5 * * * * *' },
        { name: 'everyMinute', expression: '* * * * *', options: { catchUp: 'latest', overlap: 'allow' } },
      ],
    });
    expect(h.store.declared).toEqual([
      { name: 'every5s', expression: '*/5 * * * * *', timeZone: 'UTC', catchUp: 'skip', overlap: 'skip', source: 'Spec.every5s', internal: false, nextTick: T0 },
      { name: 'everyMinute', expression: '* * * * *', timeZone: 'UTC', catchUp: 'latest', overlap: 'allow', source: 'Spec.everyMinute', internal: false, nextTick: T0 },
    ]);
    // Neither has a tick in progress at boot (every5s' next one is 500 ms away).
    expect(h.queue.attempts).toEqual([]);

    await runUntil(T0 - 1);
    expect(h.queue.attempts).toEqual([]);
    await runUntil(T0);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0]);
    await runUntil(T0 + 4_999);
    expect(h.queue.adds).toHaveLength(2);
    await runUntil(T0 + MINUTE);

    expect(ticksOf(h.queue.adds, 'every5s')).toEqual(range(T0, T0 + MINUTE, 5 * SECOND));
    expect(ticksOf(h.queue.adds, 'everyMinute')).toEqual([T0, T0 + MINUTE]);
    expect(onTime(h.queue.adds)).toEqual([]);
    expect(h.queue.adds.map((a) => a.jobId)).toEqual(h.queue.adds.map((a) => `${a.name}@${a.tick}`));
    expect(h.queue.payloads).toEqual(h.queue.adds.map((a) => ({ name: a.name, scheduledAt: a.tick, trigger: 'schedule' })));
    expect(new Set(h.queue.adds.map((a) => a.jobId)).size).toBe(15);
    expect(h.store.beforeTickCalls.filter((c) => c.name === 'everyMinute')).toEqual([
      { name: 'everyMinute', tick: T0, next: T0 + MINUTE },
      { name: 'everyMinute', tick: T0 + MINUTE, next: T0 + 2 * MINUTE },
    ]);
    expect(h.store.beforeTickCalls.filter((c) => c.name === 'every5s')).toHaveLength(13);
    expect(h.scheduler.stats).toEqual({ enqueued: 15, enqueueRetries: 0, enqueueFailures: 0, missed: 0, paused: 0 });
    expect(h.runs.calls).toBe(0);
  });

  it('a replica without the lease enqueues 500 ms after the tick, and at the tick once it takes the lease', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'every5s', expression: '*/5 * * * * *' }], leader: false });
    await runUntil(T0 + 499);
    expect(h.queue.adds).toEqual([]);
    await runUntil(T0 + 500);
    expect(h.queue.adds).toEqual([{ name: 'every5s', tick: T0, jobId: `every5s@${T0}`, at: T0 + 500 }]);

    // The lease is refreshed every 2 s from boot: taken at T0 + 1.5 s.
    h.redis.leader = true;
    await runUntil(T0 + 5 * SECOND);
    expect(h.queue.adds.slice(1)).toEqual([{ name: 'every5s', tick: T0 + 5 * SECOND, jobId: `every5s@${T0 + 5 * SECOND}`, at: T0 + 5 * SECOND }]);
  });

  it('an hourly Europe/Berlin cron fires once per real hour through the autumn change, on the instant', async () => {
    const from = Date.parse('2026-10-24T22:30:00Z');
    const h = await boot(from, {
      crons: [
        { name: 'hourly', expression: '0 * * * *', options: { timeZone: 'Europe/Berlin' } },
        { name: 'daily0230', expression: '30 2 * * *', options: { timeZone: 'Europe/Berlin' } },
      ],
      // Fewer lease refreshes to step through over six hours.
      options: { schedulerLeaseTtlMs: 2 * HOUR, schedulerLeaseRenewMs: HOUR },
    });
    await runUntil(from + 6 * HOUR);
    expect(ticksOf(h.queue.adds, 'hourly').map(iso)).toEqual([
      '2026-10-24T23:00:00.000Z',
      '2026-10-25T00:00:00.000Z',
      // 01:00Z is 02:00 CET, the second 02:00 local of the night.
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T03:00:00.000Z',
      '2026-10-25T04:00:00.000Z',
    ]);
    // 02:30 local happens twice (00:30Z CEST, 01:30Z CET): once.
    expect(ticksOf(h.queue.adds, 'daily0230').map(iso)).toEqual(['2026-10-25T00:30:00.000Z']);
    expect(onTime(h.queue.adds)).toEqual([]);
  });

  it('a daily 02:30 Europe/Berlin cron fires once, at 03:00 CEST, on the spring change', async () => {
    const from = Date.parse('2026-03-28T22:00:00Z');
    const h = await boot(from, {
      crons: [{ name: 'daily0230', expression: '30 2 * * *', options: { timeZone: 'Europe/Berlin' } }],
      options: { schedulerLeaseTtlMs: 2 * HOUR, schedulerLeaseRenewMs: HOUR },
    });
    await runUntil(from + 6 * HOUR);
    expect(h.queue.adds.map((a) => `${iso(a.tick)} at ${iso(a.at)}`)).toEqual(['2026-03-29T01:00:00.000Z at 2026-03-29T01:00:00.000Z']);
  });

  it('stops at shutdown: no tick after it, and the lease is given up', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'everySecond', expression: '* * * * * *' }] });
    await runUntil(T0 + 1_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000]);
    await h.scheduler.beforeApplicationShutdown();
    await runUntil(T0 + 10_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000]);
    expect(h.redis.scripts.at(-1)).toContain("redis.call('DEL', KEYS[1])");
  });
});

describe('CronScheduler: freeze and clock jumps', () => {
  // Every second from T0; just after T0+2s fired, the wall clock moves on by
  // `jump` while the (monotonic) timer of T0+3s still has 998 ms to go, as
  // after a suspended VM or a wall-clock step: the timer then wakes at
  // T0 + 2998 + jump with about `jump` ms of ticks behind it.
  const cases: {
    title: string;
    catchUp: CronCatchUp;
    jump: number;
    /** Ticks enqueued at the wake-up. */
    fired: number[];
    missed: number[];
    newestReason: string;
  }[] = [
    {
      title: "'skip', waking on a tick: only that tick runs",
      catchUp: 'skip',
      jump: 60_002,
      fired: [T0 + 63_000],
      missed: range(T0 + 3_000, T0 + 62_000, SECOND),
      newestReason: `Missed: superseded by the tick of ${iso(T0 + 63_000)}`,
    },
    {
      title: "'skip', waking 2 ms before a tick: nothing at the wake-up, that tick runs on time",
      catchUp: 'skip',
      jump: 60_000,
      fired: [],
      missed: range(T0 + 3_000, T0 + 62_000, SECOND),
      newestReason: `Missed: superseded by the tick of ${iso(T0 + 63_000)}, due moments later`,
    },
    {
      title: "'latest', waking on a tick: exactly one add, the newest tick",
      catchUp: 'latest',
      jump: 60_002,
      fired: [T0 + 63_000],
      missed: range(T0 + 3_000, T0 + 62_000, SECOND),
      newestReason: `Missed: superseded by the tick of ${iso(T0 + 63_000)}`,
    },
    {
      title: "'latest', waking 2 ms before a tick: the newest is left to that tick",
      catchUp: 'latest',
      jump: 60_000,
      fired: [],
      missed: range(T0 + 3_000, T0 + 62_000, SECOND),
      newestReason: `Missed: superseded by the tick of ${iso(T0 + 63_000)}, due moments later`,
    },
    {
      title: '{ windowMs: 5000 }, waking on a tick: the ticks of the last 5 s run, in order',
      catchUp: { windowMs: 5_000 },
      jump: 60_002,
      fired: range(T0 + 58_000, T0 + 63_000, SECOND),
      missed: range(T0 + 3_000, T0 + 57_000, SECOND),
      newestReason: 'Missed: 6000 ms late, past its catch-up window of 5000 ms',
    },
    {
      title: '{ windowMs: 5000 }, waking 2 ms before a tick: the ticks of the last 5 s run, in order',
      catchUp: { windowMs: 5_000 },
      jump: 60_000,
      fired: range(T0 + 58_000, T0 + 62_000, SECOND),
      missed: range(T0 + 3_000, T0 + 57_000, SECOND),
      newestReason: 'Missed: 5998 ms late, past its catch-up window of 5000 ms',
    },
  ];

  for (const c of cases) {
    it(`every second, frozen ~60 s, ${c.title}; no burst, and scheduling goes on`, async () => {
      const h = await boot(T0 - 500, { crons: [{ name: 'everySecond', expression: '* * * * * *', options: { catchUp: c.catchUp } }] });
      await runUntil(T0 + 2_000);
      expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000, T0 + 2_000]);

      vi.setSystemTime(T0 + 2_000 + c.jump);
      const wake = T0 + 2_998 + c.jump;
      await runUntil(wake - 1);
      expect(h.queue.adds).toHaveLength(3);
      expect(h.runs.calls).toBe(0);
      await runUntil(wake);

      const caughtUp = h.queue.adds.slice(3);
      expect(ticksOf(caughtUp)).toEqual(c.fired);
      expect(caughtUp.every((a) => a.at === wake)).toBe(true);
      expect(h.runs.calls).toBe(1);
      expect(h.runs.missed.map((m) => m.tick)).toEqual(c.missed);
      expect(h.runs.missed.at(-1)?.reason).toBe(c.newestReason);
      expect(logs.some((l) => l.level === 'warn' && l.message.startsWith(`everySecond: woke ${wake - T0 - 3_000} ms after tick ${iso(T0 + 3_000)}`))).toBe(true);

      await runUntil(T0 + 66_000);
      const after = h.queue.adds.slice(3 + c.fired.length);
      const resumeAt = c.fired.includes(T0 + 63_000) ? T0 + 64_000 : T0 + 63_000;
      expect(ticksOf(after)).toEqual(range(resumeAt, T0 + 66_000, SECOND));
      expect(onTime(after)).toEqual([]);
      expect(new Set(h.queue.adds.map((a) => a.jobId)).size).toBe(h.queue.adds.length);
      expect(h.scheduler.stats).toEqual({ enqueued: h.queue.adds.length, enqueueRetries: 0, enqueueFailures: 0, missed: c.missed.length, paused: 0 });
      expect(h.runs.calls).toBe(1);
    });
  }

  // Every 10 s from T0, the clock moves 63 s on just after T0 fired; the wait
  // for T0+10s goes on in pieces of at most a second, so the jump is noticed
  // at T0+64s, 4 s after the newest missed tick (T0+60s).
  const slowCases: { title: string; catchUp: CronCatchUp; graceMs: number; fired: number[]; missed: number[] }[] = [
    { title: "'skip' with a 10 s grace runs the newest tick", catchUp: 'skip', graceMs: 10_000, fired: [T0 + 60_000], missed: range(T0 + 10_000, T0 + 50_000, 10_000) },
    { title: "'skip' with a 2 s grace runs nothing", catchUp: 'skip', graceMs: 2_000, fired: [], missed: range(T0 + 10_000, T0 + 60_000, 10_000) },
    { title: "'latest' with a 2 s grace runs the newest tick", catchUp: 'latest', graceMs: 2_000, fired: [T0 + 60_000], missed: range(T0 + 10_000, T0 + 50_000, 10_000) },
    { title: '{ windowMs: 5000 } runs the newest tick', catchUp: { windowMs: 5_000 }, graceMs: 2_000, fired: [T0 + 60_000], missed: range(T0 + 10_000, T0 + 50_000, 10_000) },
  ];

  for (const c of slowCases) {
    it(`every 10 s, clock 63 s forward: ${c.title}`, async () => {
      const h = await boot(T0 - 500, {
        crons: [{ name: 'every10s', expression: '*/10 * * * * *', options: { catchUp: c.catchUp } }],
        options: { cronCatchUpMs: c.graceMs },
      });
      await runUntil(T0);
      expect(ticksOf(h.queue.adds)).toEqual([T0]);
      vi.setSystemTime(T0 + 63_000);
      await runUntil(T0 + 63_999);
      expect(h.queue.adds).toHaveLength(1);
      expect(h.runs.calls).toBe(0);
      await runUntil(T0 + 64_000);
      expect(h.queue.adds.slice(1).map((a) => [a.tick, a.at])).toEqual(c.fired.map((tick) => [tick, T0 + 64_000]));
      expect(h.runs.missed.map((m) => m.tick)).toEqual(c.missed);
      if (c.fired.length === 0) {
        expect(h.runs.missed.at(-1)?.reason).toBe("Missed: 4000 ms late, past the catch-up grace of 2000 ms (catchUp: 'skip')");
      }
      await runUntil(T0 + 80_000);
      expect(ticksOf(h.queue.adds.slice(1 + c.fired.length))).toEqual([T0 + 70_000, T0 + 80_000]);
      expect(onTime(h.queue.adds.slice(1 + c.fired.length))).toEqual([]);
      expect(h.scheduler.stats.missed).toBe(c.missed.length);
    });
  }

  it('clock set 10 min forward 20 min before an hourly tick: that tick still fires at its time', async () => {
    const h = await boot(T0 - 30 * MINUTE, { crons: [{ name: 'hourly', expression: '0 * * * *' }] });
    await runUntil(T0 - 20 * MINUTE);
    vi.setSystemTime(T0 - 10 * MINUTE);
    await runUntil(T0);
    expect(h.queue.adds).toEqual([{ name: 'hourly', tick: T0, jobId: `hourly@${T0}`, at: T0 }]);
    await runUntil(T0 + HOUR);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + HOUR]);
    expect(onTime(h.queue.adds)).toEqual([]);
    expect(h.runs.calls).toBe(0);
  });

  it('clock set forward past an hourly tick, to 5 s after it: that tick fires within a second, inside the grace', async () => {
    const h = await boot(T0 - 30 * MINUTE, { crons: [{ name: 'hourly', expression: '0 * * * *' }] });
    await runUntil(T0 - 20 * MINUTE);
    vi.setSystemTime(T0 + 5_000);
    await runUntil(T0 + 6_000);
    expect(h.queue.adds).toEqual([{ name: 'hourly', tick: T0, jobId: `hourly@${T0}`, at: T0 + 6_000 }]);
    await runUntil(T0 + HOUR);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + HOUR]);
    expect(h.runs.calls).toBe(0);
  });

  it('clock set back an hour: no tick fires early or twice; the next one fires when the clock reaches it again', async () => {
    const h = await boot(T0 - 500, {
      crons: [{ name: 'everySecond', expression: '* * * * * *' }],
      options: { schedulerLeaseTtlMs: 2 * HOUR, schedulerLeaseRenewMs: HOUR },
    });
    await runUntil(T0 + 2_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000, T0 + 2_000]);

    vi.setSystemTime(T0 + 2_000 - HOUR);
    // The hour is waited out on a timer, not by spinning on setImmediate.
    const immediates = vi.spyOn(globalThis, 'setImmediate');
    // The timer of T0+3s wakes at T0+2998 less an hour and finds its tick an hour ahead.
    await runUntil(T0 + 3_000 - HOUR);
    expect(immediates).not.toHaveBeenCalled();
    immediates.mockRestore();
    await runUntil(T0 + 2_999);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000, T0 + 2_000]);
    await runUntil(T0 + 5_000);
    expect(ticksOf(h.queue.adds)).toEqual(range(T0, T0 + 5_000, SECOND));
    expect(onTime(h.queue.adds)).toEqual([]);
    expect(h.runs.calls).toBe(0);
    expect(h.scheduler.stats).toEqual({ enqueued: 6, enqueueRetries: 0, enqueueFailures: 0, missed: 0, paused: 0 });
  });

  it('clock set back 1.5 s: the ticks it passes again are not fired again', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'everySecond', expression: '* * * * * *' }] });
    await runUntil(T0 + 2_000);
    vi.setSystemTime(T0 + 500);
    await runUntil(T0 + 4_000);
    expect(ticksOf(h.queue.adds)).toEqual(range(T0, T0 + 4_000, SECOND));
    expect(onTime(h.queue.adds)).toEqual([]);
  });
});

describe('CronScheduler: boot', () => {
  // Every 5 s, the last tick any scheduler fired 30 s before T0; boot at T0+1s.
  const cases: { title: string; catchUp: CronCatchUp; fired: number[]; missed: number[]; oldestReason: string }[] = [
    {
      title: "'skip': the tick in progress (1 s old) runs, the rest are MISSED",
      catchUp: 'skip',
      fired: [T0],
      missed: range(T0 - 25_000, T0 - 5_000, 5_000),
      oldestReason: `Missed: superseded by the tick of ${iso(T0 - 20_000)}, due before this one could start`,
    },
    {
      title: "'latest': the newest runs, the rest are MISSED",
      catchUp: 'latest',
      fired: [T0],
      missed: range(T0 - 25_000, T0 - 5_000, 5_000),
      oldestReason: `Missed: superseded by the tick of ${iso(T0 - 20_000)}, due before this one could start`,
    },
    {
      title: '{ windowMs: 12000 }: the ticks of the last 12 s run, in order',
      catchUp: { windowMs: 12_000 },
      fired: [T0 - 10_000, T0 - 5_000, T0],
      missed: [T0 - 25_000, T0 - 20_000, T0 - 15_000],
      oldestReason: 'Missed: 26000 ms late, past its catch-up window of 12000 ms',
    },
  ];

  for (const c of cases) {
    it(`last tick 30 s ago, ${c.title}`, async () => {
      const h = await boot(T0 + 1_000, {
        crons: [{ name: 'every5s', expression: '*/5 * * * * *', options: { catchUp: c.catchUp } }],
        lastTicks: { every5s: T0 - 30_000 },
      });
      expect(h.queue.adds.map((a) => a.tick)).toEqual(c.fired);
      expect(h.queue.adds.every((a) => a.at === T0 + 1_000)).toBe(true);
      expect(h.runs.missed.map((m) => m.tick)).toEqual(c.missed);
      expect(h.runs.missed[0].reason).toBe(c.oldestReason);
      expect(h.store.beforeTickCalls).toEqual([{ name: 'every5s', tick: T0, next: T0 + 5_000 }]);
      await runUntil(T0 + 10_000);
      expect(ticksOf(h.queue.adds.slice(c.fired.length))).toEqual([T0 + 5_000, T0 + 10_000]);
      expect(onTime(h.queue.adds.slice(c.fired.length))).toEqual([]);
      expect(h.scheduler.stats).toEqual({ enqueued: c.fired.length + 2, enqueueRetries: 0, enqueueFailures: 0, missed: c.missed.length, paused: 0 });
    });
  }

  it("last tick 5 min ago, every minute, 'skip': the newest is 30 s old, so nothing runs", async () => {
    const h = await boot(T0 + 30_000, { crons: [{ name: 'everyMinute', expression: '* * * * *' }], lastTicks: { everyMinute: T0 - 5 * MINUTE } });
    expect(h.queue.adds).toEqual([]);
    expect(h.runs.missed.map((m) => m.tick)).toEqual(range(T0 - 4 * MINUTE, T0, MINUTE));
    expect(h.runs.missed.at(-1)?.reason).toBe("Missed: 30000 ms late, past the catch-up grace of 10000 ms (catchUp: 'skip')");
    await runUntil(T0 + MINUTE);
    expect(ticksOf(h.queue.adds)).toEqual([T0 + MINUTE]);
  });

  it("last tick 5 min ago, every minute, 'latest': the 30 s old newest tick runs at boot", async () => {
    const h = await boot(T0 + 30_000, {
      crons: [{ name: 'everyMinute', expression: '* * * * *', options: { catchUp: 'latest' } }],
      lastTicks: { everyMinute: T0 - 5 * MINUTE },
    });
    expect(h.queue.adds).toEqual([{ name: 'everyMinute', tick: T0, jobId: `everyMinute@${T0}`, at: T0 + 30_000 }]);
    expect(h.runs.missed.map((m) => m.tick)).toEqual(range(T0 - 4 * MINUTE, T0 - MINUTE, MINUTE));
  });

  it('ticks another replica noted after reconcile are its to fire: not recorded MISSED here', async () => {
    const h = await boot(T0 + 1_000, {
      crons: [{ name: 'every5s', expression: '*/5 * * * * *' }],
      lastTicks: { every5s: T0 - 30_000 },
      prepare: ({ store }) => {
        store.afterReconcile = () => store.lastTicks.set('every5s', T0 - 10_000);
      },
    });
    expect(ticksOf(h.queue.adds)).toEqual([T0]);
    expect(h.runs.missed.map((m) => m.tick)).toEqual([T0 - 5_000]);
    expect(h.scheduler.stats.missed).toBe(1);
  });

  it('boot just before a tick: the caught-up tick is MISSED as superseded, so no two adds back to back', async () => {
    const h = await boot(T0 + 4_500, { crons: [{ name: 'every5s', expression: '*/5 * * * * *' }], lastTicks: { every5s: T0 - 10_000 } });
    expect(h.queue.adds).toEqual([]);
    expect(h.runs.missed).toEqual([
      { name: 'every5s', tick: T0 - 5_000, reason: `Missed: superseded by the tick of ${iso(T0)}, due before this one could start` },
      { name: 'every5s', tick: T0, reason: `Missed: superseded by the tick of ${iso(T0 + 5_000)}, due moments later` },
    ]);
    await runUntil(T0 + 5_000);
    expect(h.queue.adds).toEqual([{ name: 'every5s', tick: T0 + 5_000, jobId: `every5s@${T0 + 5_000}`, at: T0 + 5_000 }]);
  });

  it('first boot (no last tick) just before a tick: nothing is fired or recorded until that tick', async () => {
    const h = await boot(T0 + 4_500, { crons: [{ name: 'every5s', expression: '*/5 * * * * *' }] });
    expect(h.queue.adds).toEqual([]);
    expect(h.store.beforeTickCalls).toEqual([]);
    await runUntil(T0 + 5_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0 + 5_000]);
    expect(h.runs.calls).toBe(0);
  });

  it('first boot within the grace of a tick: that tick in progress runs at boot, nothing is MISSED', async () => {
    const h = await boot(T0 + 3_000, { crons: [{ name: 'everyMinute', expression: '* * * * *' }] });
    expect(h.queue.adds).toEqual([{ name: 'everyMinute', tick: T0, jobId: `everyMinute@${T0}`, at: T0 + 3_000 }]);
    await runUntil(T0 + MINUTE);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + MINUTE]);
    expect(h.runs.calls).toBe(0);
  });

  it('first boot past the grace of the last tick: nothing runs and nothing is MISSED', async () => {
    const h = await boot(T0 + 20_000, { crons: [{ name: 'everyMinute', expression: '* * * * *' }] });
    expect(h.queue.adds).toEqual([]);
    expect(h.runs.calls).toBe(0);
    await runUntil(T0 + MINUTE);
    expect(ticksOf(h.queue.adds)).toEqual([T0 + MINUTE]);
  });
});

describe('CronScheduler: pause', () => {
  it('paused between ticks: no add while paused, no MISSED row for the paused ticks, adds resume after resume()', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'everySecond', expression: '* * * * * *' }] });
    await runUntil(T0 + 1_500);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000]);

    await h.store.pause('everySecond');
    await runUntil(T0 + 4_500);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000]);
    expect(h.scheduler.stats.paused).toBe(3);
    // Each paused tick was still noted, so a later catch-up does not count it missed.
    expect(h.store.lastTicks.get('everySecond')).toBe(T0 + 4_000);

    await h.store.resume('everySecond');
    await runUntil(T0 + 6_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000, T0 + 5_000, T0 + 6_000]);
    expect(onTime(h.queue.adds)).toEqual([]);
    expect(h.runs.calls).toBe(0);
    expect(h.scheduler.stats).toEqual({ enqueued: 4, enqueueRetries: 0, enqueueFailures: 0, missed: 0, paused: 3 });
  });

  it('paused across a freeze: the catch-up neither enqueues nor records MISSED', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'everySecond', expression: '* * * * * *', options: { catchUp: { windowMs: 5_000 } } }] });
    await runUntil(T0 + 2_000);
    await h.store.pause('everySecond');
    vi.setSystemTime(T0 + 62_002);
    await runUntil(T0 + 63_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000, T0 + 2_000]);
    expect(h.runs.calls).toBe(0);
    expect(h.scheduler.stats.paused).toBe(6);
    await h.store.resume('everySecond');
    await runUntil(T0 + 64_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000, T0 + 2_000, T0 + 64_000]);
    expect(h.scheduler.stats.missed).toBe(0);
  });

  it('paused before boot: the boot catch-up neither enqueues nor records MISSED', async () => {
    const h = await boot(T0 + 1_000, {
      crons: [{ name: 'every5s', expression: '*/5 * * * * *' }],
      lastTicks: { every5s: T0 - 30_000 },
      prepare: ({ store }) => store.paused.add('every5s'),
    });
    expect(h.queue.adds).toEqual([]);
    expect(h.runs.calls).toBe(0);
    expect(h.scheduler.stats).toEqual({ enqueued: 0, enqueueRetries: 0, enqueueFailures: 0, missed: 0, paused: 1 });
  });
});

describe('CronScheduler: failures', () => {
  it('a failing add is retried with backoff and then succeeds', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'everyMinute', expression: '* * * * *' }] });
    h.queue.failures.set(T0, 2);
    await runUntil(T0 + 599);
    expect(h.queue.attempts.map((a) => a.at)).toEqual([T0, T0 + 200]);
    expect(h.queue.adds).toEqual([]);
    await runUntil(T0 + 600);
    expect(h.queue.attempts.map((a) => a.at)).toEqual([T0, T0 + 200, T0 + 600]);
    expect(h.queue.attempts.map((a) => a.jobId)).toEqual([`everyMinute@${T0}`, `everyMinute@${T0}`, `everyMinute@${T0}`]);
    expect(h.queue.adds).toEqual([{ name: 'everyMinute', tick: T0, jobId: `everyMinute@${T0}`, at: T0 + 600 }]);
    expect(h.scheduler.stats).toEqual({ enqueued: 1, enqueueRetries: 2, enqueueFailures: 0, missed: 0, paused: 0 });
    expect(h.runs.calls).toBe(0);
  });

  // Backoff 200, 400, 800, 1600, then 2000 ms; the last attempt is the one after which the next would be past the deadline.
  const deadlines: { title: string; expression: string; catchUp: CronCatchUp; attemptsAt: number[] }[] = [
    { title: "'skip': until the 10 s grace", expression: '* * * * *', catchUp: 'skip', attemptsAt: [0, 200, 600, 1_400, 3_000, 5_000, 7_000, 9_000] },
    { title: "'skip' every 5 s: until the next tick", expression: '*/5 * * * * *', catchUp: 'skip', attemptsAt: [0, 200, 600, 1_400, 3_000, 5_000] },
    { title: '{ windowMs: 1000 }: until the window closes', expression: '* * * * *', catchUp: { windowMs: 1_000 }, attemptsAt: [0, 200, 600] },
  ];

  for (const c of deadlines) {
    it(`an add that keeps failing is recorded MISSED at its deadline, ${c.title}`, async () => {
      const h = await boot(T0 - 500, { crons: [{ name: 'failing', expression: c.expression, options: { catchUp: c.catchUp } }] });
      h.queue.failures.set(T0, Infinity);
      await runUntil(T0 + 12_000);
      expect(h.queue.attempts.filter((a) => a.tick === T0).map((a) => a.at - T0)).toEqual(c.attemptsAt);
      expect(h.runs.missed).toEqual([{ name: 'failing', tick: T0, reason: 'Missed: could not be enqueued (Error: Connection is closed.)' }]);
      expect(h.queue.adds.filter((a) => a.tick === T0)).toEqual([]);
      expect(h.scheduler.stats).toMatchObject({ enqueueRetries: c.attemptsAt.length - 1, enqueueFailures: 1, missed: 1 });
      expect(logs.filter((l) => l.level === 'error' && l.message.startsWith(`Could not enqueue tick ${iso(T0)} of failing (${c.attemptsAt.length} attempt(s))`))).toHaveLength(1);
    });
  }

  it('the tick after a failed one is enqueued normally', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'everyMinute', expression: '* * * * *' }] });
    h.queue.failures.set(T0, Infinity);
    await runUntil(T0 + MINUTE);
    expect(h.queue.adds).toEqual([{ name: 'everyMinute', tick: T0 + MINUTE, jobId: `everyMinute@${T0 + MINUTE}`, at: T0 + MINUTE }]);
    expect(h.scheduler.stats).toEqual({ enqueued: 1, enqueueRetries: 7, enqueueFailures: 1, missed: 1, paused: 0 });
  });

  it('cron_schedules failing: ticks are still enqueued, on time; the outage and the recovery are logged once', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'everySecond', expression: '* * * * * *' }] });
    h.store.failBeforeTick = true;
    await runUntil(T0 + 2_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000, T0 + 2_000]);
    expect(onTime(h.queue.adds)).toEqual([]);
    expect(h.store.beforeTickCalls.map((c) => c.tick)).toEqual([T0, T0 + 1_000, T0 + 2_000]);
    const outage = logs.filter((l) => l.message.startsWith('cron_schedules unreachable (connect ECONNREFUSED 127.0.0.1:5432)'));
    expect(outage.map((l) => l.level)).toEqual(['warn']);

    h.store.failBeforeTick = false;
    await runUntil(T0 + 4_000);
    expect(ticksOf(h.queue.adds)).toEqual(range(T0, T0 + 4_000, SECOND));
    expect(logs.filter((l) => l.message === 'cron_schedules answers again')).toHaveLength(1);
  });

  it('cron_schedules failing at a catch-up: the newest tick runs, nothing is recorded MISSED', async () => {
    const h = await boot(T0 + 1_000, {
      crons: [{ name: 'every5s', expression: '*/5 * * * * *' }],
      lastTicks: { every5s: T0 - 30_000 },
      prepare: ({ store }) => {
        store.failBeforeTick = true;
      },
    });
    expect(ticksOf(h.queue.adds)).toEqual([T0]);
    expect(h.runs.calls).toBe(0);
    expect(h.scheduler.stats).toEqual({ enqueued: 1, enqueueRetries: 0, enqueueFailures: 0, missed: 0, paused: 0 });
  });
});

describe('CronScheduler: an app whose crons are all track: false', () => {
  const untracked = (name: string, expression: string, options: CronOptions = {}): CronSpec => ({ name, expression, options: { ...options, track: false } });

  it('keeps its schedules in Redis: reconciles and notes every tick there, and never connects the database', async () => {
    const h = await boot(T0 - 500, { crons: [untracked('every5s', '*/5 * * * * *'), untracked('everyMinute', '* * * * *')] });
    await runUntil(T0 + 5_000);
    expect(h.redisStore.declared.map((cron) => cron.name)).toEqual(['every5s', 'everyMinute']);
    expect(h.redisStore.beforeTickCalls.map((c) => `${c.name}@${iso(c.tick)}`)).toEqual([
      `every5s@${iso(T0)}`,
      `everyMinute@${iso(T0)}`,
      `every5s@${iso(T0 + 5_000)}`,
    ]);
    expect(ticksOf(h.queue.adds, 'every5s')).toEqual([T0, T0 + 5_000]);
    expect({ redis: h.redisStore.connected, database: h.store.connected, runs: h.runs.connected }).toEqual({ redis: true, database: false, runs: false });
    expect(h.store.beforeTickCalls).toEqual([]);
  });

  it('one tracked cron among them is enough for cron_schedules, as before', async () => {
    const h = await boot(T0 - 500, { crons: [untracked('every5s', '*/5 * * * * *'), { name: 'tracked', expression: '* * * * *' }] });
    await runUntil(T0);
    expect(h.store.declared.map((cron) => cron.name)).toEqual(['every5s', 'tracked']);
    expect({ redis: h.redisStore.connected, database: h.store.connected, runs: h.runs.connected }).toEqual({ redis: false, database: true, runs: true });
    expect(h.redisStore.beforeTickCalls).toEqual([]);
  });

  it("catches up from the last tick kept in Redis: 'latest' runs the newest, the others are logged MISSED without a row", async () => {
    const h = await boot(T0 + 1_000, {
      crons: [untracked('every5s', '*/5 * * * * *', { catchUp: 'latest' })],
      lastTicks: { every5s: T0 - 30_000 },
    });
    expect(ticksOf(h.queue.adds)).toEqual([T0]);
    expect(h.runs.calls).toBe(0);
    expect(h.scheduler.stats).toMatchObject({ enqueued: 1, missed: 5 });
    expect(logs.some((l) => l.level === 'warn' && l.message.startsWith('every5s: 5 tick(s) missed'))).toBe(true);
  });

  it('a pause kept in Redis holds: no add while paused, adds again after resume', async () => {
    const h = await boot(T0 - 500, { crons: [untracked('everySecond', '* * * * * *')] });
    await runUntil(T0 + 1_000);
    await h.redisStore.pause('everySecond');
    await runUntil(T0 + 3_000);
    await h.redisStore.resume('everySecond');
    await runUntil(T0 + 4_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000, T0 + 4_000]);
    expect(h.scheduler.stats.paused).toBe(2);
  });

  it('Redis failing to answer the pause check: ticks are still enqueued, and the log names Redis', async () => {
    const h = await boot(T0 - 500, { crons: [untracked('everySecond', '* * * * * *')] });
    h.redisStore.failBeforeTick = true;
    await runUntil(T0 + 1_000);
    expect(ticksOf(h.queue.adds)).toEqual([T0, T0 + 1_000]);
    h.redisStore.failBeforeTick = false;
    await runUntil(T0 + 2_000);
    expect(logs.filter((l) => l.message.startsWith('Redis (tasks:cron-schedule:*) unreachable (')).map((l) => l.level)).toEqual(['warn']);
    expect(logs.filter((l) => l.message === 'Redis (tasks:cron-schedule:*) answers again')).toHaveLength(1);
  });
});

describe('CronScheduler: lifecycle events', () => {
  it('the lease taken, each tick enqueued (at the tick, as the leader), and the lease given up at shutdown', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'everySecond', expression: '* * * * * *' }] });
    await runUntil(T0 + 1_000);
    await h.scheduler.beforeApplicationShutdown();
    const schedulerId = h.scheduler.state().id;
    expect(h.heard).toEqual([
      { name: 'scheduler.lease.changed', event: { held: true, schedulerId } },
      { name: 'cron.tick.enqueued', event: { cron: 'everySecond', scheduledAt: new Date(T0), leader: true } },
      { name: 'cron.tick.enqueued', event: { cron: 'everySecond', scheduledAt: new Date(T0 + 1_000), leader: true } },
      { name: 'scheduler.lease.changed', event: { held: false, schedulerId } },
    ]);
    current = undefined;
  });

  it('ticks slept through are missed by catch-up, each with its reason, recorded when the run store wrote its row', async () => {
    const h = await boot(T0 + 4_500, {
      crons: [{ name: 'every5s', expression: '*/5 * * * * *' }],
      lastTicks: { every5s: T0 - 10_000 },
      prepare: ({ runs }) => {
        // The older tick already had a row (another replica's): the run store did not add it.
        const record = runs.recordMissed.bind(runs);
        runs.recordMissed = async (name, ticks) => (await record(name, ticks)).filter((tick) => tick !== T0 - 5_000);
      },
    });
    expect(h.heard.filter((e) => e.name === 'cron.tick.missed')).toEqual([
      {
        name: 'cron.tick.missed',
        event: { cron: 'every5s', scheduledAt: new Date(T0 - 5_000), cause: 'catch-up', reason: `Missed: superseded by the tick of ${iso(T0)}, due before this one could start`, recorded: false },
      },
      {
        name: 'cron.tick.missed',
        event: { cron: 'every5s', scheduledAt: new Date(T0), cause: 'catch-up', reason: `Missed: superseded by the tick of ${iso(T0 + 5_000)}, due moments later`, recorded: true },
      },
    ]);
  });

  it('a tick that could not be enqueued in time is missed with cause enqueue-failed, and never enqueued', async () => {
    const h = await boot(T0 - 500, { crons: [{ name: 'failing', expression: '* * * * *', options: { catchUp: { windowMs: 1_000 } } }] });
    h.queue.failures.set(T0, Infinity);
    await runUntil(T0 + 2_000);
    const ofTick = h.heard.filter((e) => 'cron' in e.event && e.event.cron === 'failing');
    expect(ofTick).toEqual([
      { name: 'cron.tick.missed', event: { cron: 'failing', scheduledAt: new Date(T0), cause: 'enqueue-failed', reason: 'Missed: could not be enqueued (Error: Connection is closed.)', recorded: true } },
    ]);
  });
});
