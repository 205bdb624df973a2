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
  /** Rows by job, in tick order (a Map keyed by epoch ms would hash each tick as a heap number: slow over a year of ticks). */
  private readonly byJob = new Map<string, StoredRun[]>();
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
    const row = this.owned(jobName, runId, fencingToken, 'heartbeat');
    if (row) {
      row.heartbeatAt = this.date();
      this.touch(row);
    }
    return Promise.resolve(row !== undefined);
  }

  complete(jobName: string, runId: number, fencingToken: number, durationMs: number, result: unknown): Promise<boolean> {
    // What reads back from the jsonb column: a Date becomes its ISO string, undefined becomes null.
    const stored: unknown = JSON.parse(JSON.stringify(result ?? null));
    return Promise.resolve(this.finish(jobName, runId, fencingToken, CronRunStatus.COMPLETED, durationMs, stored, null, null));
  }

  fail(jobName: string, runId: number, fencingToken: number, durationMs: number, error: unknown, abortReason?: string): Promise<boolean> {
    const described = describeError(error, this.options.redisUrl);
    return Promise.resolve(this.finish(jobName, runId, fencingToken, CronRunStatus.FAILED, durationMs, null, described, abortReason ?? null));
  }

  handBack(jobName: string, runId: number, fencingToken: number, durationMs: number, reason: string): Promise<boolean> {
    const row = this.owned(jobName, runId, fencingToken, 'hand-back');
    if (row) {
      row.status = CronRunStatus.FAILED;
      row.handedBack = true;
      row.completedAt = this.date();
      row.durationMs = Math.round(durationMs);
      row.error = reason;
      row.reason = reason;
      this.ended(row);
    }
    return Promise.resolve(row !== undefined);
  }

  recordSkipped(run: CronRunKey, reason: string): Promise<boolean> {
    if (this.rowOf(run.jobName, run.scheduledAt.getTime())) return Promise.resolve(false);
    const row = this.insert(run.jobName, run.scheduledAt, CronRunStatus.SKIPPED, run.attempt, run.trigger);
    row.startedAt = this.date();
    row.completedAt = this.date();
    row.durationMs = 0;
    row.reason = reason;
    this.touch(row);
    return Promise.resolve(true);
  }

  recordMissed(jobName: string, ticks: readonly { tick: number; reason: string }[]): Promise<number[]> {
    const added: number[] = [];
    for (const { tick, reason } of ticks) {
      if (this.rowOf(jobName, tick)) continue;
      const row = this.insert(jobName, new Date(tick), CronRunStatus.MISSED, 1, 'schedule');
      row.completedAt = this.date();
      row.durationMs = 0;
      row.reason = reason;
      this.touch(row);
      added.push(tick);
    }
    return Promise.resolve(added);
  }

  /** The job's rows, oldest tick first (snapshots). */
  runsOf(jobName: string): CronRun[] {
    return (this.byJob.get(jobName) ?? []).map(snapshot);
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
    this.byJob.clear();
    this.running.clear();
  }

  private claimRow(run: CronRunKey, claim: RunClaim): RunAdmission {
    if (run.trigger === 'schedule' && this.schedules.isPaused(run.jobName)) return { kind: 'paused' };
    const existing = this.rowOf(run.jobName, run.scheduledAt.getTime());
    // Only a FAILED row of an earlier attempt, or one handed back at shutdown, is claimed again.
    if (existing && !(existing.status === CronRunStatus.FAILED && (existing.attempt < run.attempt || existing.handedBack))) return { kind: 'duplicate' };
    const other = this.running.get(run.jobName);
    if (claim.exclusive && other && other !== existing) return { kind: 'busy', runId: other.id, heartbeatAt: other.heartbeatAt };
    const row = existing ?? this.insert(run.jobName, run.scheduledAt, CronRunStatus.RUNNING, run.attempt, run.trigger);
    const fencingToken = ++this.sequence;
    row.status = CronRunStatus.RUNNING;
    row.startedAt = this.date();
    row.heartbeatAt = row.startedAt;
    row.attempt = run.attempt;
    row.trigger = run.trigger;
    row.lockToken = claim.lockToken;
    row.workerId = WORKER_ID;
    row.fencingToken = fencingToken;
    row.lockTtlMs = claim.lockTtlMs;
    row.exclusive = claim.exclusive;
    row.handedBack = false;
    row.completedAt = null;
    row.durationMs = null;
    row.result = null;
    row.error = null;
    row.reason = null;
    this.touch(row);
    if (claim.exclusive) this.running.set(run.jobName, row);
    return { kind: 'run', runId: row.id, fencingToken };
  }

  // The job's exclusive RUNNING row, marked lost when its heartbeat is older than its bound: the id of the row it marked.
  private releaseSilentRun(jobName: string): number | undefined {
    const row = this.running.get(jobName);
    const since = row?.heartbeatAt ?? row?.startedAt;
    if (!row || !since || since.getTime() >= this.clock.now() - (row.lockTtlMs ?? 0)) return undefined;
    const error = `Worker lost: no heartbeat since ${since.toISOString()} (liveness bound ${row.lockTtlMs} ms) and its lock is gone. ${WORKER_LOST_CAUSE}`;
    row.status = CronRunStatus.FAILED;
    row.completedAt = this.date();
    row.durationMs = this.clock.now() - (row.startedAt ?? since).getTime();
    row.error = error;
    this.ended(row);
    return row.id;
  }

  private finish(jobName: string, runId: number, fencingToken: number, status: CronRunStatus, durationMs: number, result: unknown, error: string | null, reason: string | null): boolean {
    const row = this.owned(jobName, runId, fencingToken, 'outcome');
    if (!row) return false;
    row.status = status;
    row.completedAt = this.date();
    row.durationMs = Math.round(durationMs);
    row.result = result;
    row.error = error;
    row.reason = reason;
    this.ended(row);
    return true;
  }

  /** The row, if it is still RUNNING under this token; a refused write is counted and told. */
  private owned(jobName: string, runId: number, fencingToken: number, write: CronRunFencedEvent['write']): StoredRun | undefined {
    const row = this.byId.get(runId);
    if (row?.status === CronRunStatus.RUNNING && row.fencingToken === fencingToken) return row;
    this.fencedWrites++;
    this.events.emit('cron.run.fenced', { cron: jobName, runId, fencingToken, write });
    return undefined;
  }

  /** A row that is no longer RUNNING was written. */
  private ended(row: StoredRun): void {
    this.touch(row);
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
    let list = this.byJob.get(jobName);
    if (!list) this.byJob.set(jobName, (list = []));
    const tick = scheduledAt.getTime();
    // Ticks mostly come in order: the new row is the newest.
    if (list.length === 0 || list[list.length - 1].scheduledAt.getTime() < tick) list.push(row);
    else list.splice(firstAtOrAfter(list, tick), 0, row);
    return row;
  }

  /** The row was written: it is the newest write, and maybe its job's latest run. */
  private touch(row: StoredRun): void {
    row.version = ++this.writes;
    this.schedules.noteRun(row.jobName, row);
  }

  private rowOf(jobName: string, tick: number): StoredRun | undefined {
    const list = this.byJob.get(jobName);
    if (!list || list.length === 0 || list[list.length - 1].scheduledAt.getTime() < tick) return undefined;
    const row = list[firstAtOrAfter(list, tick)];
    return row?.scheduledAt.getTime() === tick ? row : undefined;
  }

  private date(): Date {
    return new Date(this.clock.now());
  }
}

/** Index of the first row of `list` (in tick order) whose tick is `tick` or later. */
function firstAtOrAfter(list: readonly StoredRun[], tick: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (list[middle].scheduledAt.getTime() < tick) low = middle + 1;
    else high = middle;
  }
  return low;
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
