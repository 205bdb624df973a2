import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TasksClock } from '../options/tasks-clock.js';
import { WORKER_LOST_CAUSE, type CronRunKey, type CronRunRecorder, type RunAdmission, type RunClaim } from '../tracking/cron-run.store.js';
import { CronRunStatus, type CronRunTrigger } from '../tracking/cron-run-status.js';
import { describeError } from '../redaction/redact.js';
import { TasksEvents } from '../events/tasks-events.js';
import type { CronRunFencedEvent } from '../events/lifecycle-events.js';
import { InMemoryScheduleStore } from './in-memory-schedule-store.js';

/**
 * One row of the kit's run store: a row of `cron_job_runs` as the production
 * store writes it, with the id and fencing token as numbers (as `CronContext`
 * has them).
 */
export interface CronRun {
  /** `CronContext.runId`: the same for every attempt of the tick. */
  readonly id: number;
  readonly namespace: string;
  readonly jobName: string;
  readonly status: CronRunStatus;
  /** The tick (for a manual trigger, the fake time of the trigger). */
  readonly scheduledAt: Date;
  readonly trigger: CronRunTrigger;
  readonly attempt: number;
  /** The fencing token of the attempt that holds (or held) the row; null for SKIPPED and MISSED rows. */
  readonly fencingToken: number | null;
  /** The handler's return value, as it reads back from the jsonb column (through JSON). */
  readonly result: unknown;
  /** Message and stack of a failure. */
  readonly error: string | null;
  /** Why the tick did not run (SKIPPED, MISSED), what aborted the run, or that it was handed back. */
  readonly reason: string | null;
  readonly startedAt: Date | null;
  readonly completedAt: Date | null;
  readonly durationMs: number | null;
  readonly heartbeatAt: Date | null;
  readonly lockTtlMs: number | null;
  readonly exclusive: boolean;
  readonly handedBack: boolean;
  readonly lockToken: string | null;
  readonly workerId: string | null;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface StoredRun extends Mutable<CronRun> {
  /** The store's write counter at the row's last write. */
  version: number;
}

const WORKER_ID = `testing-kit:${process.pid}`;

/**
 * `cron_job_runs` in memory, provided under `CronRunStore`'s token: the
 * production pipeline claims, heartbeats, finishes, skips and misses its runs
 * here with the same rules as the Postgres store: one row per (job, tick), a
 * fresh and larger fencing token per attempt, at most one exclusive RUNNING
 * row per job, writes fenced by the attempt's token, a retry or a handed-back
 * run reclaiming its FAILED row, a paused cron's scheduled tick not admitted.
 * Timestamps come from the kit's clock; a refused write and a row marked
 * lost are lifecycle events, as production's are.
 */
@Injectable()
export class InMemoryCronRunStore implements CronRunRecorder {
  private readonly rows: StoredRun[] = [];
  private readonly byId = new Map<number, StoredRun>();
  /** Rows by job, then by tick (epoch ms). */
  private readonly byTick = new Map<string, Map<number, StoredRun>>();
  private readonly byJob = new Map<string, StoredRun[]>();
  /** The newest tick with a row, by job. */
  private readonly newestTick = new Map<string, number>();
  /** The job's exclusive RUNNING row, if any (the partial unique index of production). */
  private readonly running = new Map<string, StoredRun>();
  /** Ids and fencing tokens come from one sequence, as production's do. */
  private sequence = 0;
  private writes = 0;
  private fencedWrites = 0;

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clock: TasksClock,
    private readonly schedules: InMemoryScheduleStore,
    private readonly events: TasksEvents,
  ) {}

  get refusedWrites(): number {
    return this.fencedWrites;
  }

  /** The write counter: rows written after a call have a larger {@link changedSince} version. */
  get version(): number {
    return this.writes;
  }

  admit(run: CronRunKey, claim: RunClaim): Promise<RunAdmission> {
    const first = this.claimRow(run, claim);
    if (first.kind !== 'busy') return Promise.resolve(first);
    const lost = this.releaseSilentRun(run.jobName);
    if (lost === undefined) return Promise.resolve(first);
    this.events.emit('cron.run.lost', { cron: run.jobName, runId: lost, foundBy: 'next-run' });
    return Promise.resolve(this.claimRow(run, claim));
  }

  heartbeat(jobName: string, runId: number, fencingToken: number): Promise<boolean> {
    const row = this.owned({ cron: jobName, runId, fencingToken, write: 'heartbeat' });
    if (row) this.write(row, { heartbeatAt: this.date() });
    return Promise.resolve(row !== undefined);
  }

  complete(jobName: string, runId: number, fencingToken: number, durationMs: number, result: unknown): Promise<boolean> {
    // What reads back from the jsonb column: a Date becomes its ISO string, undefined becomes null.
    const stored: unknown = JSON.parse(JSON.stringify(result ?? null));
    return Promise.resolve(this.finish({ cron: jobName, runId, fencingToken, write: 'outcome' }, { status: CronRunStatus.COMPLETED, durationMs, result: stored, error: null, reason: null }));
  }

  fail(jobName: string, runId: number, fencingToken: number, durationMs: number, error: unknown, abortReason?: string): Promise<boolean> {
    const described = describeError(error, this.options.redisUrl);
    return Promise.resolve(this.finish({ cron: jobName, runId, fencingToken, write: 'outcome' }, { status: CronRunStatus.FAILED, durationMs, result: null, error: described, reason: abortReason ?? null }));
  }

  handBack(jobName: string, runId: number, fencingToken: number, durationMs: number, reason: string): Promise<boolean> {
    const row = this.owned({ cron: jobName, runId, fencingToken, write: 'hand-back' });
    if (row) this.end(row, { status: CronRunStatus.FAILED, handedBack: true, durationMs: Math.round(durationMs), error: reason, reason });
    return Promise.resolve(row !== undefined);
  }

  recordSkipped(run: CronRunKey, reason: string): Promise<boolean> {
    if (this.rowOf(run.jobName, run.scheduledAt.getTime())) return Promise.resolve(false);
    const now = this.date();
    this.write(this.insert(run.jobName, run.scheduledAt, CronRunStatus.SKIPPED, run.attempt, run.trigger), { startedAt: now, completedAt: now, durationMs: 0, reason });
    return Promise.resolve(true);
  }

  recordMissed(jobName: string, ticks: readonly { tick: number; reason: string }[]): Promise<number[]> {
    const added: number[] = [];
    for (const { tick, reason } of ticks) {
      if (this.rowOf(jobName, tick)) continue;
      this.write(this.insert(jobName, new Date(tick), CronRunStatus.MISSED, 1, 'schedule'), { completedAt: this.date(), durationMs: 0, reason });
      added.push(tick);
    }
    return Promise.resolve(added);
  }

  /** The job's rows, oldest tick first (snapshots). */
  runsOf(jobName: string): CronRun[] {
    return [...(this.byJob.get(jobName) ?? [])].sort(byTick).map(snapshot);
  }

  /** Every row, oldest tick first (snapshots). */
  all(): CronRun[] {
    return [...this.rows].sort(byTick).map(snapshot);
  }

  /** Rows written after the store's {@link version} was `version`, oldest tick first (snapshots). */
  changedSince(version: number): CronRun[] {
    return this.rows
      .filter((row) => row.version > version)
      .sort(byTick)
      .map(snapshot);
  }

  /** Names of the jobs that have rows. */
  jobs(): string[] {
    return [...this.byJob.keys()].sort();
  }

  /** Forgets every row (the sequence goes on: tokens keep growing). */
  reset(): void {
    this.rows.length = 0;
    this.byId.clear();
    this.byTick.clear();
    this.byJob.clear();
    this.newestTick.clear();
    this.running.clear();
  }

  private claimRow(run: CronRunKey, claim: RunClaim): RunAdmission {
    if (run.trigger === 'schedule' && this.schedules.isPaused(run.jobName)) return { kind: 'paused' };
    const existing = this.rowOf(run.jobName, run.scheduledAt.getTime());
    // Only a FAILED row of an earlier attempt, or one handed back at shutdown, is claimed again.
    if (existing && !(existing.status === CronRunStatus.FAILED && (existing.attempt < run.attempt || existing.handedBack))) return { kind: 'duplicate' };
    const other = this.running.get(run.jobName);
    if (claim.exclusive && other && other !== existing) return { kind: 'busy', runId: other.id, heartbeatAt: other.heartbeatAt };
    const now = this.date();
    const fencingToken = ++this.sequence;
    const fields = {
      status: CronRunStatus.RUNNING,
      startedAt: now,
      heartbeatAt: now,
      attempt: run.attempt,
      trigger: run.trigger,
      lockToken: claim.lockToken,
      workerId: WORKER_ID,
      fencingToken,
      lockTtlMs: claim.lockTtlMs,
      exclusive: claim.exclusive,
      handedBack: false,
      completedAt: null,
      durationMs: null,
      result: null,
      error: null,
      reason: null,
    };
    const row = this.write(existing ?? this.insert(run.jobName, run.scheduledAt, CronRunStatus.RUNNING, run.attempt, run.trigger), fields);
    if (claim.exclusive) this.running.set(run.jobName, row);
    return { kind: 'run', runId: row.id, fencingToken };
  }

  // The job's exclusive RUNNING row, marked lost when its heartbeat is older than its bound: the id of the row it marked.
  private releaseSilentRun(jobName: string): number | undefined {
    const row = this.running.get(jobName);
    const since = row?.heartbeatAt ?? row?.startedAt;
    if (!row || !since || since.getTime() >= this.clock.now() - (row.lockTtlMs ?? 0)) return undefined;
    const error = `Worker lost: no heartbeat since ${since.toISOString()} (liveness bound ${row.lockTtlMs} ms) and its lock is gone. ${WORKER_LOST_CAUSE}`;
    this.end(row, { status: CronRunStatus.FAILED, durationMs: this.clock.now() - (row.startedAt ?? since).getTime(), error });
    return row.id;
  }

  private finish(write: CronRunFencedEvent, fields: Pick<StoredRun, 'status' | 'durationMs' | 'result' | 'error' | 'reason'>): boolean {
    const row = this.owned(write);
    if (row) this.end(row, { ...fields, durationMs: Math.round(fields.durationMs ?? 0) });
    return row !== undefined;
  }

  /** The row, if it is still RUNNING under the write's token; a refused write is counted and told. */
  private owned(write: CronRunFencedEvent): StoredRun | undefined {
    const row = this.byId.get(write.runId);
    if (row?.status === CronRunStatus.RUNNING && row.fencingToken === write.fencingToken) return row;
    this.fencedWrites++;
    this.events.emit('cron.run.fenced', write);
    return undefined;
  }

  private end(row: StoredRun, fields: Partial<StoredRun>): void {
    this.write(row, { completedAt: this.date(), ...fields });
    if (this.running.get(row.jobName) === row) this.running.delete(row.jobName);
  }

  /** A new row of the tick, in the store's indexes; its writer fills it in. */
  private insert(jobName: string, scheduledAt: Date, status: CronRunStatus, attempt: number, trigger: CronRunTrigger): StoredRun {
    const row: StoredRun = {
      id: ++this.sequence,
      namespace: this.options.prefix,
      jobName,
      status,
      scheduledAt,
      trigger,
      attempt,
      fencingToken: null,
      result: null,
      error: null,
      reason: null,
      startedAt: null,
      completedAt: null,
      durationMs: null,
      heartbeatAt: null,
      lockTtlMs: null,
      exclusive: true,
      handedBack: false,
      lockToken: null,
      workerId: WORKER_ID,
      version: 0,
    };
    this.rows.push(row);
    this.byId.set(row.id, row);
    let ticks = this.byTick.get(jobName);
    if (!ticks) this.byTick.set(jobName, (ticks = new Map()));
    const tick = scheduledAt.getTime();
    ticks.set(tick, row);
    if (tick > (this.newestTick.get(jobName) ?? -Infinity)) this.newestTick.set(jobName, tick);
    let list = this.byJob.get(jobName);
    if (!list) this.byJob.set(jobName, (list = []));
    list.push(row);
    return row;
  }

  private write(row: StoredRun, fields: Partial<StoredRun>): StoredRun {
    Object.assign(row, fields);
    row.version = ++this.writes;
    this.schedules.noteRun(row.jobName, row);
    return row;
  }

  private rowOf(jobName: string, tick: number): StoredRun | undefined {
    // Ticks mostly come in order: one after the newest has no row, and needs no lookup.
    if (tick > (this.newestTick.get(jobName) ?? -Infinity)) return undefined;
    return this.byTick.get(jobName)?.get(tick);
  }

  private date(): Date {
    return new Date(this.clock.now());
  }
}

function byTick(a: StoredRun, b: StoredRun): number {
  return a.scheduledAt.getTime() - b.scheduledAt.getTime() || a.id - b.id;
}

function snapshot(row: StoredRun): CronRun {
  return {
    id: row.id,
    namespace: row.namespace,
    jobName: row.jobName,
    status: row.status,
    scheduledAt: row.scheduledAt,
    trigger: row.trigger,
    attempt: row.attempt,
    fencingToken: row.fencingToken,
    result: row.result,
    error: row.error,
    reason: row.reason,
    startedAt: row.startedAt,
    completedAt: row.completedAt,
    durationMs: row.durationMs,
    heartbeatAt: row.heartbeatAt,
    lockTtlMs: row.lockTtlMs,
    exclusive: row.exclusive,
    handedBack: row.handedBack,
    lockToken: row.lockToken,
    workerId: row.workerId,
  };
}
