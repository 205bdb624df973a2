import { resolve } from 'node:path';
import { expect, onTestFailed, onTestFinished, type TestContext } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CRON_QUEUE, bullmqConnection } from '#nestjs-tasks-internal';
import { executionsKey, type ExecutionRecord } from '../fixtures/cron-fixture/cron-fixtures.js';
import { createTestSchema, type TestSchema } from './database.js';
import { AppProcess, ROOT, workerReady, type LogLine } from './processes.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from './redis.js';

/** The cron fixture app (test/fixtures/cron-fixture), built by test/global-setup.ts. */
export const CRON_FIXTURE_ENTRY = resolve(ROOT, 'dist/test/fixtures/cron-fixture/main.js');

export const schedulerReady = (line: LogLine) =>
  line.context === 'CronScheduler' && typeof line.msg === 'string' && line.msg.startsWith('Scheduling');

/** A row of cron_job_runs, timestamps as epoch ms. */
export interface CronRunRow {
  id: number;
  jobName: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED' | 'SKIPPED' | 'MISSED';
  namespace: string;
  fencingToken: number | null;
  heartbeatAt: number | null;
  handedBack: boolean;
  reason: string | null;
  scheduledAt: number;
  startedAt: number | null;
  completedAt: number | null;
  durationMs: number | null;
  result: unknown;
  error: string | null;
  attempt: number;
  trigger: string;
  lockToken: string | null;
  workerId: string | null;
}

/** One execution of a fixture cron's body, from its start and end records. */
export interface Execution {
  job: string;
  runId: number;
  fencingToken: number;
  scheduledAt: number;
  trigger: string;
  pid: number;
  start: number;
  /** Undefined while it runs (or if its process was killed). */
  end?: number;
  outcome?: ExecutionRecord['outcome'];
  abortReason?: string;
}

interface RawRunRow {
  id: string;
  job_name: string;
  status: CronRunRow['status'];
  scheduled_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  duration_ms: number | null;
  result: unknown;
  error: string | null;
  attempt: number;
  trigger: string;
  lock_token: string | null;
  worker_id: string | null;
  namespace: string;
  fencing_token: string | null;
  heartbeat_at: Date | null;
  handed_back: boolean;
  reason: string | null;
}

export interface StartOptions {
  /** Process name in failure output. */
  name?: string;
  /** Extra environment (e.g. DATABASE_URL through a proxy, FIXTURE_LONG_MS). */
  env?: Record<string, string | undefined>;
}

/**
 * One cron scenario: its own TASKS_PREFIX and Postgres schema (migrated),
 * the cron fixture processes it starts, and readers for what they did:
 * rows of cron_job_runs and the executions the fixture crons recorded.
 */
export class CronScenario {
  readonly processes: AppProcess[] = [];
  /** Processes the test stopped or killed on purpose. */
  readonly stopped = new Set<AppProcess>();
  private redisClient?: Redis;
  private cronQueueClient?: Queue;

  private constructor(
    readonly prefix: string,
    readonly schema: TestSchema,
  ) {}

  static async create(label: string): Promise<CronScenario> {
    const prefix = uniquePrefix(label);
    const schema = await createTestSchema(label);
    return new CronScenario(prefix, schema);
  }

  /** What every process of the scenario gets. */
  get env(): Record<string, string> {
    return {
      REDIS_URL,
      TASKS_PREFIX: this.prefix,
      ...this.schema.env,
      // Stopping a worker mid-run should not wait 25 s.
      TASKS_SHUTDOWN_GRACE_MS: '1000',
    };
  }

  /** Starts a cron fixture worker running `fixtures` (e.g. ['tick']) and waits until it consumes. */
  startWorker(fixtures: string[], options: StartOptions = {}): Promise<AppProcess> {
    return this.start('worker', fixtures, options);
  }

  /** Starts a cron fixture scheduler firing `fixtures` and waits until it schedules. */
  startScheduler(fixtures: string[], options: StartOptions = {}): Promise<AppProcess> {
    return this.start('scheduler', fixtures, options);
  }

  /** Starts any built app under this scenario's prefix and schema, without waiting. */
  spawn(name: string, entry: string, env: Record<string, string | undefined> = {}): AppProcess {
    const app = new AppProcess(name, entry, { ...this.env, ...env });
    this.processes.push(app);
    return app;
  }

  /** Rows of cron_job_runs of this scenario's namespace (its prefix), of one job or all, in tick order. */
  async runs(job?: string, namespace = this.prefix): Promise<CronRunRow[]> {
    const rows = (await this.schema.dataSource.query(
      `SELECT * FROM cron_job_runs WHERE namespace = $1 ${job === undefined ? '' : 'AND job_name = $2'} ORDER BY scheduled_at, id`,
      job === undefined ? [namespace] : [namespace, job],
    )) as RawRunRow[];
    return rows.map((row) => ({
      id: Number(row.id),
      jobName: row.job_name,
      status: row.status,
      scheduledAt: row.scheduled_at.getTime(),
      startedAt: row.started_at?.getTime() ?? null,
      completedAt: row.completed_at?.getTime() ?? null,
      durationMs: row.duration_ms,
      result: row.result,
      error: row.error,
      attempt: row.attempt,
      trigger: row.trigger,
      lockToken: row.lock_token,
      workerId: row.worker_id,
      namespace: row.namespace,
      fencingToken: row.fencing_token === null ? null : Number(row.fencing_token),
      heartbeatAt: row.heartbeat_at?.getTime() ?? null,
      handedBack: row.handed_back,
      reason: row.reason,
    }));
  }

  /** Polls cron_job_runs of `job` until `done(rows)` holds; returns those rows. */
  waitForRuns(
    job: string,
    done: (rows: CronRunRow[]) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<CronRunRow[]> {
    return this.poll(
      async () => {
        const rows = await this.runs(job);
        return done(rows) ? rows : undefined;
      },
      { timeoutMs, what },
    );
  }

  /**
   * Polls `probe` until it returns a truthy value, like waitFor, but fails at
   * once (with its output) when a process of the scenario died on its own.
   */
  async poll<T>(probe: () => T | Promise<T>, { timeoutMs = 30_000, what = 'condition' } = {}): Promise<NonNullable<T>> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      this.assertProcessesAlive();
      try {
        const value = await probe();
        if (value) return value as NonNullable<T>;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Executions the fixture crons recorded (of one job, or all), in the order they started. */
  async executions(job?: string): Promise<Execution[]> {
    const raw = await this.redis().lrange(executionsKey(this.prefix), 0, -1);
    const byRun = new Map<string, Execution>();
    const all: Execution[] = [];
    for (const record of raw.map((line) => JSON.parse(line) as ExecutionRecord)) {
      const key = `${record.job}#${record.fencingToken}#${record.scheduledAt}#${record.pid}`;
      if (record.phase === 'start') {
        const execution: Execution = {
          job: record.job,
          runId: record.runId,
          fencingToken: record.fencingToken,
          scheduledAt: record.scheduledAt,
          trigger: record.trigger,
          pid: record.pid,
          start: record.at,
        };
        byRun.set(key, execution);
        all.push(execution);
      } else {
        const execution = byRun.get(key);
        if (!execution) throw new Error(`end record without a start: ${JSON.stringify(record)}`);
        execution.end = record.at;
        execution.outcome = record.outcome;
        execution.abortReason = record.abortReason;
      }
    }
    return all.filter((execution) => job === undefined || execution.job === job).sort((a, b) => a.start - b.start);
  }

  /** Stops the schedulers and waits until every tick they enqueued was handled, then reads rows and executions of `job`. */
  async settle(job: string, timeoutMs = 30_000): Promise<{ rows: CronRunRow[]; executions: Execution[] }> {
    await Promise.all(this.processes.filter((app) => app.name.startsWith('scheduler')).map((app) => this.stop(app)));
    await this.waitForIdleQueue(timeoutMs);
    return { rows: await this.runs(job), executions: await this.executions(job) };
  }

  /** The scenario's cron queue, for counts. */
  cronQueue(): Queue {
    this.cronQueueClient ??= new Queue(CRON_QUEUE, { connection: bullmqConnection(REDIS_URL, 'command'), prefix: this.prefix });
    return this.cronQueueClient;
  }

  /** Waits until the cron queue has nothing waiting or running (every enqueued tick was handled). */
  async waitForIdleQueue(timeoutMs = 20_000): Promise<void> {
    const queue = this.cronQueue();
    await this.poll(
      async () => {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(counts).every((count) => count === 0);
      },
      { timeoutMs, what: 'the cron queue to be idle' },
    );
  }

  redis(): Redis {
    this.redisClient ??= new Redis(REDIS_URL);
    return this.redisClient;
  }

  /** Fails at once, with the output, when a process died on its own (not stopped or killed by the test). */
  assertProcessesAlive(): void {
    for (const app of this.processes) {
      if (!app.running && !this.stopped.has(app)) {
        throw new Error(`${app.name} exited unexpectedly:\n${app.tail()}`);
      }
    }
  }

  async stop(app: AppProcess): Promise<number | null> {
    this.stopped.add(app);
    return app.stop();
  }

  kill(app: AppProcess): void {
    this.stopped.add(app);
    app.signal('SIGKILL');
  }

  /** Last lines of every process, for a failure message. */
  tails(): string {
    return this.processes.map((app) => `--- ${app.name} (pid ${app.pid}) ---\n${app.tail(30)}`).join('\n');
  }

  /** Stops every process, then drops the schema and every Redis key of the prefix. */
  async dispose(): Promise<void> {
    await Promise.all(this.processes.map((app) => app.stop()));
    await this.cronQueueClient?.close();
    this.redisClient?.disconnect();
    await this.schema.drop();
    await deletePrefix(this.prefix);
  }

  private async start(role: 'worker' | 'scheduler', fixtures: string[], options: StartOptions): Promise<AppProcess> {
    const count = this.processes.filter((app) => app.name.startsWith(role)).length + 1;
    const app = this.spawn(options.name ?? `${role}-${count}`, CRON_FIXTURE_ENTRY, {
      CRON_ROLE: role,
      CRON_FIXTURES: fixtures.join(','),
      ...options.env,
    });
    await app.waitForLog(role === 'worker' ? workerReady : schedulerReady, 'ready', 60_000);
    return app;
  }
}

/** The hooks of the test a scenario belongs to; pass the test context's own in concurrent tests. */
export type ScenarioHooks = Pick<TestContext, 'onTestFinished' | 'onTestFailed'>;

/**
 * `create()` makes a {@link CronScenario} for the current test; when the test
 * ends its processes are stopped (even when it failed) and its schema and
 * Redis keys removed. A failing test prints the processes' last lines.
 */
export function cronScenarios() {
  return {
    async create(label: string, hooks: ScenarioHooks = { onTestFinished, onTestFailed }): Promise<CronScenario> {
      const scenario = await CronScenario.create(label);
      hooks.onTestFinished(() => scenario.dispose());
      hooks.onTestFailed(() => {
        console.error(`Processes of scenario ${scenario.prefix}:\n${scenario.tails()}`);
      });
      return scenario;
    },
  };
}

/** The rows with one status. */
export const withStatus = (rows: readonly CronRunRow[], status: CronRunRow['status']) => rows.filter((row) => row.status === status);

/** Ticks (epoch ms, one `stepMs` apart) from the first to the last row that have no row. */
export function missingTicks(rows: readonly CronRunRow[], stepMs = 1_000): number[] {
  if (rows.length === 0) return [];
  const ticks = new Set(rows.map((row) => row.scheduledAt));
  const first = Math.min(...ticks);
  const last = Math.max(...ticks);
  const missing: number[] = [];
  for (let tick = first; tick <= last; tick += stepMs) if (!ticks.has(tick)) missing.push(tick);
  return missing;
}

/** Ticks that have more than one row, or more than one execution. */
export function duplicated<T extends { scheduledAt: number }>(items: readonly T[]): number[] {
  const seen = new Map<number, number>();
  for (const item of items) seen.set(item.scheduledAt, (seen.get(item.scheduledAt) ?? 0) + 1);
  return [...seen].filter(([, count]) => count > 1).map(([tick]) => tick);
}

/** Pairs of executions that ran at the same time (one started before the other had ended). */
export function overlapping(executions: readonly Execution[]): string[] {
  const sorted = [...executions].sort((a, b) => a.start - b.start);
  const overlaps: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j].start < (sorted[i].end ?? Infinity); j++) {
      overlaps.push(
        `run ${sorted[i].runId} (tick ${iso(sorted[i].scheduledAt)}, pid ${sorted[i].pid}, ${sorted[i].start}..${sorted[i].end}) ` +
          `overlaps run ${sorted[j].runId} (tick ${iso(sorted[j].scheduledAt)}, pid ${sorted[j].pid}, ${sorted[j].start}..${sorted[j].end})`,
      );
    }
  }
  return overlaps;
}

/** Executions without a row of their own (same job, tick and run id): runs that went untracked. */
export function untracked(executions: readonly Execution[], rows: readonly CronRunRow[]): Execution[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return executions.filter((execution) => {
    const row = byId.get(execution.runId);
    return !row || row.jobName !== execution.job || row.scheduledAt !== execution.scheduledAt;
  });
}

/**
 * SKIPPED rows with no run of the job that could have held its lock. A tick
 * is skipped when, at some moment between the tick and the SKIPPED insert
 * (its started_at), the lock was held: by a run of a tick fired before that
 * insert, that had not yet released the lock (shortly after writing its
 * completed_at). `releaseSlackMs` covers that "shortly" on a busy machine.
 */
export function skippedWithoutRunInProgress(rows: readonly CronRunRow[], releaseSlackMs = 1_000): CronRunRow[] {
  const runs = rows.filter((row) => row.status !== 'SKIPPED');
  return rows.filter(
    (row) =>
      row.status === 'SKIPPED' &&
      !runs.some(
        (run) =>
          run.jobName === row.jobName &&
          run.scheduledAt <= (row.startedAt ?? -Infinity) &&
          row.scheduledAt <= (run.completedAt ?? Infinity) + releaseSlackMs,
      ),
  );
}

export const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The cron contract over one job's rows and executions: one row per tick from
 * the first to the last, none duplicated; a tick is SKIPPED only while an
 * earlier run held the lock (and then did not execute); every other tick
 * executed once, as one COMPLETED row, returning normally; no two executions overlapped.
 */
export function expectOneRowPerTick(rows: CronRunRow[], executions: Execution[]): void {
  const byNumber = (a: number, b: number) => a - b;
  expect(missingTicks(rows).map(iso)).toEqual([]);
  expect(duplicated(rows).map(iso)).toEqual([]);
  expect(rows.filter((row) => row.status !== 'COMPLETED' && row.status !== 'SKIPPED')).toEqual([]);
  expect(skippedWithoutRunInProgress(rows)).toEqual([]);
  expect(duplicated(executions).map(iso)).toEqual([]);
  expect(untracked(executions, rows)).toEqual([]);
  expect(executions.map((e) => e.runId).sort(byNumber)).toEqual(
    rows
      .filter((row) => row.status === 'COMPLETED')
      .map((row) => row.id)
      .sort(byNumber),
  );
  expect(executions.filter((e) => e.end === undefined || e.outcome !== 'returned')).toEqual([]);
  expect(overlapping(executions)).toEqual([]);
}
