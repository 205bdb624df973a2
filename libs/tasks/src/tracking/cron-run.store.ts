import { Inject, Injectable } from '@nestjs/common';
import { hostname } from 'node:os';
import { TasksEvents } from '../events/tasks-events.js';
import type { CronRunFencedEvent } from '../events/lifecycle-events.js';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { CronRunStatus, type CronRunTrigger } from './cron-run-status.js';
import {
  TrackingDatabaseLocator,
  type TrackingDatabase,
} from './tracking-database.js';
import { returnedRows } from './returned-rows.js';
import { describeError } from '../redaction/redact.js';

/** Which run a row is about: one tick (or manual trigger) of one job, one attempt. */
export interface CronRunKey {
  readonly jobName: string;
  readonly scheduledAt: Date;
  readonly trigger: CronRunTrigger;
  readonly attempt: number;
}

/** How a run claims its row. */
export interface RunClaim {
  /** The Redis lock's value, or null for `overlap: 'allow'`. */
  readonly lockToken: string | null;
  /** The liveness bound: a RUNNING row without a heartbeat for this long is lost. */
  readonly lockTtlMs: number;
  /** False for `overlap: 'allow'`: such runs do not count against "one RUNNING row per job". */
  readonly exclusive: boolean;
}

/** What claiming the row decided. */
export type RunAdmission =
  /** Run, as this row, with this attempt's fencing token. */
  | {
      readonly kind: 'run';
      readonly runId: number;
      readonly fencingToken: number;
    }
  /** This tick already has a row (it ran, runs, or was skipped or missed): do not run it again. */
  | { readonly kind: 'duplicate' }
  /** The cron is paused (scheduled ticks only). */
  | { readonly kind: 'paused' }
  /** Another exclusive run of the job is RUNNING with a live heartbeat. */
  | {
      readonly kind: 'busy';
      readonly runId: number;
      readonly heartbeatAt: Date | null;
    };

/** A RUNNING row whose heartbeat is older than its liveness bound, as the lost-run sweep sees it. */
export interface SilentRow {
  readonly id: string;
  readonly jobName: string;
  readonly lockToken: string | null;
  readonly heartbeatAt: Date | null;
  readonly lockTtlMs: number;
}

/**
 * What the cron run pipeline writes about its runs: the row a run claims,
 * its heartbeats and outcome, the ticks it skipped or missed. Postgres in
 * production ({@link CronRunStore}), memory in the testing kit. Every write
 * after the claim is fenced by the attempt's token: false when refused.
 */
export interface CronRunRecorder {
  /** Outcome and heartbeat writes refused because the row no longer belonged to the attempt. */
  readonly refusedWrites: number;
  admit(run: CronRunKey, claim: RunClaim): Promise<RunAdmission>;
  heartbeat(
    jobName: string,
    runId: number,
    fencingToken: number,
  ): Promise<boolean>;
  complete(
    jobName: string,
    runId: number,
    fencingToken: number,
    durationMs: number,
    result: unknown,
  ): Promise<boolean>;
  fail(
    jobName: string,
    runId: number,
    fencingToken: number,
    durationMs: number,
    error: unknown,
    abortReason?: string,
  ): Promise<boolean>;
  handBack(
    jobName: string,
    runId: number,
    fencingToken: number,
    durationMs: number,
    reason: string,
  ): Promise<boolean>;
  /** False when the tick already had a row (which it keeps). */
  recordSkipped(run: CronRunKey, reason: string): Promise<boolean>;
  /** The ticks (epoch ms) it added; a tick that already had a row keeps it. */
  recordMissed(
    jobName: string,
    ticks: readonly { tick: number; reason: string }[],
  ): Promise<number[]>;
}

/** The end of every "Worker lost" message, whoever finds the silent row (the sweep or the job's next run). */
export const WORKER_LOST_CAUSE =
  'The worker died, or was frozen longer than that; the run was marked failed.';
/** Rows from before heartbeats were written are judged by their start and this bound. */
const LEGACY_LOCK_TTL_MS = 300_000;
const ONE_RUNNING_INDEX = 'uq_cron_job_runs_one_running';
const SILENT = `status = 'RUNNING' AND coalesce(heartbeat_at, started_at) < now() - coalesce(lock_ttl_ms, ${LEGACY_LOCK_TTL_MS}) * interval '1 millisecond'`;

/**
 * Claims a tick's row for one attempt. Parameters: namespace, job, tick,
 * attempt, trigger, lock token, worker id, token sequence, lock TTL (ms),
 * exclusive. Nothing is written for a scheduled tick of a paused cron; else
 * a RUNNING row with a fresh fencing token, or the reclaim of the tick's own
 * FAILED row by a later attempt or after a hand-back. Answers `paused`, and
 * the claimed `id` and `fencing_token` (null when the tick has a row it may
 * not take). Also run by hand as the bench's baseline of the same writes.
 */
export function claimRowSql(runs: string, schedules: string): string {
  return `WITH paused AS (
     SELECT 1 FROM ${schedules} WHERE namespace = $1 AND name = $2 AND paused AND $5 = 'schedule'
   ), claimed AS (
     INSERT INTO ${runs} AS r
       (namespace, job_name, status, scheduled_at, started_at, heartbeat_at, attempt, trigger,
        lock_token, worker_id, fencing_token, lock_ttl_ms, exclusive)
     SELECT $1, $2, 'RUNNING', $3, now(), now(), $4, $5, $6, $7, nextval($8::regclass), $9, $10
      WHERE NOT EXISTS (SELECT 1 FROM paused)
     ON CONFLICT (namespace, job_name, scheduled_at) DO UPDATE
       SET status = 'RUNNING', started_at = now(), heartbeat_at = now(), attempt = EXCLUDED.attempt,
           lock_token = EXCLUDED.lock_token, worker_id = EXCLUDED.worker_id,
           fencing_token = EXCLUDED.fencing_token, lock_ttl_ms = EXCLUDED.lock_ttl_ms,
           exclusive = EXCLUDED.exclusive, handed_back = false,
           completed_at = NULL, duration_ms = NULL, result = NULL, error = NULL, reason = NULL
       WHERE r.status = 'FAILED' AND (r.attempt < EXCLUDED.attempt OR r.handed_back)
     RETURNING id, fencing_token
   )
   SELECT EXISTS (SELECT 1 FROM paused) AS paused, (SELECT id FROM claimed) AS id, (SELECT fencing_token FROM claimed) AS fencing_token`;
}

/** Records a run's outcome, fenced: only while the row is RUNNING under the attempt's token. Parameters: id, fencing token, status, duration (ms), result (JSON), error, reason. */
export function finishRunSql(runs: string): string {
  return `UPDATE ${runs}
     SET status = $3, completed_at = now(), duration_ms = $4, result = $5::jsonb, error = $6, reason = $7
   WHERE id = $1 AND fencing_token = $2 AND status = 'RUNNING'
   RETURNING id`;
}

/**
 * The run store: writes cron_job_runs, always within this deployment's
 * namespace (its prefix): RUNNING before the handler, heartbeats while it
 * runs, the outcome after, SKIPPED / MISSED rows for ticks that did not run,
 * FAILED for lost runs. Apps read the rows through `CronRunsService`.
 *
 * Every write after the RUNNING insert is fenced: it applies only while the
 * row is still RUNNING under this attempt's fencing token, so a run marked
 * lost (or reclaimed by another attempt) can no longer change its row. A
 * refused write is the lifecycle event `cron.run.fenced`; a row marked lost
 * is `cron.run.lost`. What the other writes recorded, they return.
 */
@Injectable()
export class CronRunStore implements CronRunRecorder {
  private readonly workerId = `${hostname()}:${process.pid}`;
  private database?: TrackingDatabase;
  /** Outcome and heartbeat writes refused because the row no longer belonged to the attempt. */
  private fencedWrites = 0;

  constructor(
    private readonly locator: TrackingDatabaseLocator,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly events: TasksEvents,
  ) {}

  /** Finds the DataSource; fails fast at start when the app has crons but no tracking database. */
  async connect(): Promise<void> {
    this.database = await this.locator.get();
  }

  get namespace(): string {
    return this.options.prefix;
  }

  /** How many late writes were refused by fencing since start. */
  get refusedWrites(): number {
    return this.fencedWrites;
  }

  /**
   * Claims the tick's row for this attempt, with a fresh fencing token. An
   * exclusive run that finds another RUNNING row of the job is `busy`, unless
   * that row's heartbeat is older than its bound: then it is marked lost and
   * the claim tried once more. A retry attempt, or a run handed back at
   * shutdown, reclaims its own FAILED row.
   */
  async admit(run: CronRunKey, claim: RunClaim): Promise<RunAdmission> {
    const first = await this.claimRow(run, claim);
    if (first.kind !== 'busy') return first;
    const lost = await this.releaseSilentRun(run.jobName);
    if (lost === undefined) return first;
    this.events.emit('cron.run.lost', {
      cron: run.jobName,
      runId: lost,
      foundBy: 'next-run',
    });
    return this.claimRow(run, claim);
  }

  private async claimRow(
    run: CronRunKey,
    claim: RunClaim,
  ): Promise<RunAdmission> {
    const db = this.db();
    let rows: {
      paused: boolean;
      id: string | null;
      fencing_token: string | null;
    }[];
    try {
      rows = (await db.query(
        claimRowSql(this.tableName(), this.schedulesName()),
        [
          this.namespace,
          run.jobName,
          run.scheduledAt,
          run.attempt,
          run.trigger,
          claim.lockToken,
          this.workerId,
          this.ready().tokenSequence,
          claim.lockTtlMs,
          claim.exclusive,
        ],
      )) as typeof rows;
    } catch (error) {
      if (!isUniqueViolation(error, ONE_RUNNING_INDEX)) throw error;
      const [running] = (await db.query(
        `SELECT id, heartbeat_at FROM ${this.tableName()}
          WHERE namespace = $1 AND job_name = $2 AND status = 'RUNNING' AND exclusive`,
        [this.namespace, run.jobName],
      )) as { id: string; heartbeat_at: Date | null }[];
      // It may have finished between the insert and this read: busy all the same, as for a live run.
      return {
        kind: 'busy',
        runId: Number(running?.id ?? 0),
        heartbeatAt: running?.heartbeat_at ?? null,
      };
    }
    const [row] = rows;
    if (row?.paused) return { kind: 'paused' };
    if (!row?.id || !row.fencing_token) return { kind: 'duplicate' };
    return {
      kind: 'run',
      runId: Number(row.id),
      fencingToken: Number(row.fencing_token),
    };
  }

  /**
   * Marks FAILED the job's exclusive RUNNING row if its heartbeat is older
   * than its bound. Called by a run that holds the job's lock, so that row's
   * lock is gone too: its worker died or froze. The id of the row it marked, if it marked one.
   */
  private async releaseSilentRun(jobName: string): Promise<number | undefined> {
    const rows = (await this.db().query(
      `UPDATE ${this.tableName()}
          SET status = 'FAILED', completed_at = now(),
              duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int,
              error = 'Worker lost: no heartbeat since '
                      || to_char(coalesce(heartbeat_at, started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                      || ' (liveness bound ' || coalesce(lock_ttl_ms, ${LEGACY_LOCK_TTL_MS}) || ' ms) and its lock is gone. ' || $3
        WHERE namespace = $1 AND job_name = $2 AND exclusive AND ${SILENT}
        RETURNING id`,
      [this.namespace, jobName, WORKER_LOST_CAUSE],
    )) as unknown[];
    const [row] = returnedRows<{ id: string }>(rows);
    return row ? Number(row.id) : undefined;
  }

  /** Says the run is alive. False when the row is no longer this attempt's (marked lost, reclaimed): the run must stop. */
  async heartbeat(
    jobName: string,
    runId: number,
    fencingToken: number,
  ): Promise<boolean> {
    return this.fenced(
      `UPDATE ${this.tableName()} SET heartbeat_at = now() WHERE id = $1 AND fencing_token = $2 AND status = 'RUNNING' RETURNING id`,
      [runId, fencingToken],
      { cron: jobName, runId, fencingToken, write: 'heartbeat' },
    );
  }

  /** Records COMPLETED; false when the row is no longer this attempt's. */
  complete(
    jobName: string,
    runId: number,
    fencingToken: number,
    durationMs: number,
    result: unknown,
  ): Promise<boolean> {
    return this.finish(
      jobName,
      runId,
      fencingToken,
      CronRunStatus.COMPLETED,
      durationMs,
      JSON.stringify(result ?? null),
      null,
      null,
    );
  }

  /** Records FAILED with the error (and what aborted the run, if something did); false when the row is no longer this attempt's. */
  fail(
    jobName: string,
    runId: number,
    fencingToken: number,
    durationMs: number,
    error: unknown,
    abortReason?: string,
  ): Promise<boolean> {
    return this.finish(
      jobName,
      runId,
      fencingToken,
      CronRunStatus.FAILED,
      durationMs,
      null,
      describeError(error, this.options.redisUrl),
      abortReason ?? null,
    );
  }

  /** Gives the row up at shutdown so that the handed-back job reclaims it on another worker. */
  handBack(
    jobName: string,
    runId: number,
    fencingToken: number,
    durationMs: number,
    reason: string,
  ): Promise<boolean> {
    return this.fenced(
      `UPDATE ${this.tableName()}
          SET status = 'FAILED', handed_back = true, completed_at = now(), duration_ms = $3, error = $4, reason = $4
        WHERE id = $1 AND fencing_token = $2 AND status = 'RUNNING'
        RETURNING id`,
      [runId, fencingToken, Math.round(durationMs), reason],
      { cron: jobName, runId, fencingToken, write: 'hand-back' },
    );
  }

  /** Records the tick SKIPPED; false when it already had a row (which it keeps). */
  async recordSkipped(run: CronRunKey, reason: string): Promise<boolean> {
    const rows = (await this.db().query(
      `INSERT INTO ${this.tableName()}
         (namespace, job_name, status, scheduled_at, started_at, completed_at, duration_ms, attempt, trigger, worker_id, reason)
       VALUES ($1, $2, 'SKIPPED', $3, now(), now(), 0, $4, $5, $6, $7)
       ON CONFLICT (namespace, job_name, scheduled_at) DO NOTHING
       RETURNING id`,
      [
        this.namespace,
        run.jobName,
        run.scheduledAt,
        run.attempt,
        run.trigger,
        this.workerId,
        reason,
      ],
    )) as unknown[];
    return rowCount(rows) > 0;
  }

  /** Records ticks that will not run as MISSED rows; a tick that already has a row keeps it. Returns the ticks (epoch ms) it added. */
  async recordMissed(
    jobName: string,
    ticks: readonly { tick: number; reason: string }[],
  ): Promise<number[]> {
    if (ticks.length === 0) return [];
    const rows = (await this.db().query(
      `INSERT INTO ${this.tableName()}
         (namespace, job_name, status, scheduled_at, completed_at, duration_ms, attempt, trigger, worker_id, reason)
       SELECT $1, $2, 'MISSED', t.tick, now(), 0, 1, 'schedule', $3, t.reason
         FROM unnest($4::timestamptz[], $5::text[]) AS t(tick, reason)
       ON CONFLICT (namespace, job_name, scheduled_at) DO NOTHING
       RETURNING scheduled_at`,
      [
        this.namespace,
        jobName,
        this.workerId,
        ticks.map((t) => new Date(t.tick)),
        ticks.map((t) => t.reason),
      ],
    )) as unknown[];
    return returnedRows<{ scheduled_at: Date }>(rows).map((row) =>
      row.scheduled_at.getTime(),
    );
  }

  /** RUNNING rows of this namespace whose heartbeat is older than their liveness bound. */
  async silentRows(): Promise<SilentRow[]> {
    const rows = (await this.db().query(
      `SELECT id, job_name, lock_token, heartbeat_at, coalesce(lock_ttl_ms, ${LEGACY_LOCK_TTL_MS}) AS lock_ttl_ms
         FROM ${this.tableName()} WHERE namespace = $1 AND ${SILENT} ORDER BY scheduled_at`,
      [this.namespace],
    )) as {
      id: string;
      job_name: string;
      lock_token: string | null;
      heartbeat_at: Date | null;
      lock_ttl_ms: number;
    }[];
    return rows.map((row) => ({
      id: row.id,
      jobName: row.job_name,
      lockToken: row.lock_token,
      heartbeatAt: row.heartbeat_at,
      lockTtlMs: row.lock_ttl_ms,
    }));
  }

  /** Marks a RUNNING row FAILED with `reason` if it is still silent; false if it spoke or finished meanwhile. */
  async markLost(
    row: Pick<SilentRow, 'id' | 'jobName'>,
    reason: string,
  ): Promise<boolean> {
    const marked = await this.fenced(
      `UPDATE ${this.tableName()}
          SET status = 'FAILED', completed_at = now(),
              duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int, error = $2
        WHERE id = $1 AND ${SILENT}
        RETURNING id`,
      [row.id, reason],
    );
    if (marked)
      this.events.emit('cron.run.lost', {
        cron: row.jobName,
        runId: Number(row.id),
        foundBy: 'sweep',
      });
    return marked;
  }

  /**
   * Deletes finished runs of this namespace scheduled before `before`, at most
   * `batchSize` rows per statement, until none is left or `deadline` (epoch
   * ms) passes: a backlog is worked off over several prunes instead of one
   * statement that times out every time.
   */
  async deleteOlderThan(
    before: Date,
    batchSize: number,
    deadline = Infinity,
  ): Promise<{ deleted: number; batches: number }> {
    let deleted = 0;
    let batches = 0;
    for (;;) {
      const rows = (await this.db().query(
        `DELETE FROM ${this.tableName()}
          WHERE id IN (SELECT id FROM ${this.tableName()}
                        WHERE namespace = $1 AND scheduled_at < $2 AND status <> 'RUNNING'
                        LIMIT $3)
          RETURNING id`,
        [this.namespace, before, batchSize],
      )) as unknown[];
      const count = rowCount(rows);
      deleted += count;
      batches++;
      if (count < batchSize || Date.now() >= deadline)
        return { deleted, batches };
    }
  }

  private async finish(
    jobName: string,
    runId: number,
    fencingToken: number,
    status: CronRunStatus,
    durationMs: number,
    result: string | null,
    error: string | null,
    reason: string | null,
  ): Promise<boolean> {
    return this.fenced(
      finishRunSql(this.tableName()),
      [
        runId,
        fencingToken,
        status,
        Math.round(durationMs),
        result,
        error,
        reason,
      ],
      { cron: jobName, runId, fencingToken, write: 'outcome' },
    );
  }

  /** Runs an UPDATE ... RETURNING; false when it matched no row, which for a write of a run (`refused`) is a refused write. */
  private async fenced(
    sql: string,
    parameters: unknown[],
    refused?: CronRunFencedEvent,
  ): Promise<boolean> {
    const rows = (await this.db().query(sql, parameters)) as unknown[];
    const applied = rowCount(rows) > 0;
    if (!applied && refused) {
      this.fencedWrites++;
      this.events.emit('cron.run.fenced', refused);
    }
    return applied;
  }

  private db(): TrackingDatabase['dataSource'] {
    return this.ready().dataSource;
  }

  private tableName(): string {
    return this.ready().table;
  }

  private schedulesName(): string {
    return this.ready().schedulesTable;
  }

  private ready(): TrackingDatabase {
    if (!this.database) throw new Error('CronRunStore used before connect()');
    return this.database;
  }
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const driverError =
    (error as { driverError?: { code?: string; constraint?: string } })
      .driverError ?? (error as { code?: string; constraint?: string });
  return driverError.code === '23505' && driverError.constraint === constraint;
}

function rowCount(result: unknown[]): number {
  return returnedRows(result).length;
}
