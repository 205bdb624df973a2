import { Injectable } from '@nestjs/common';
import { hostname } from 'node:os';
import { workerLost } from '../tasks.messages.js';
import { CronRunStatus, type CronRunTrigger } from './cron-run-status.js';
import { TrackingDatabaseLocator, type TrackingDatabase } from './tracking-database.js';

/** Which run a row is about: one tick (or manual trigger) of one job, one attempt. */
export interface CronRunKey {
  readonly jobName: string;
  readonly scheduledAt: Date;
  readonly trigger: CronRunTrigger;
  readonly attempt: number;
}

/** A RUNNING row, as the lost-run sweep sees it. */
export interface RunningRow {
  id: string;
  jobName: string;
  lockToken: string | null;
}

/**
 * Writes cron_job_runs: RUNNING before the handler, COMPLETED/FAILED after,
 * SKIPPED when the lock was held, and FAILED for runs whose worker was lost.
 * One row per (job, tick) is enforced by the table's unique constraint.
 */
@Injectable()
export class CronRunTracker {
  private readonly workerId = `${hostname()}:${process.pid}`;
  private database?: TrackingDatabase;

  constructor(private readonly locator: TrackingDatabaseLocator) {}

  /** Finds the DataSource; fails fast at worker start when the app has crons but no tracking database. */
  async connect(): Promise<void> {
    this.database = await this.locator.get();
  }

  /**
   * Inserts the RUNNING row and returns its id (the run's fencing token), or
   * undefined when this tick already has a row (it ran, runs, or was skipped):
   * then the run must not execute. A retry attempt reclaims its own FAILED row.
   */
  async start(run: CronRunKey, lockToken: string): Promise<number | undefined> {
    const rows = (await this.db().query(
      `INSERT INTO ${this.tableName()} AS r
         (job_name, status, scheduled_at, started_at, attempt, trigger, lock_token, worker_id)
       VALUES ($1, 'RUNNING', $2, now(), $3, $4, $5, $6)
       ON CONFLICT (job_name, scheduled_at) DO UPDATE
         SET status = 'RUNNING', started_at = now(), attempt = EXCLUDED.attempt,
             lock_token = EXCLUDED.lock_token, worker_id = EXCLUDED.worker_id,
             completed_at = NULL, duration_ms = NULL, result = NULL, error = NULL
         WHERE r.status = 'FAILED' AND r.attempt < EXCLUDED.attempt
       RETURNING id`,
      [run.jobName, run.scheduledAt, run.attempt, run.trigger, lockToken, this.workerId],
    )) as { id: string }[];
    return rows[0] ? Number(rows[0].id) : undefined;
  }

  async complete(runId: number, durationMs: number, result: unknown): Promise<void> {
    await this.finish(runId, CronRunStatus.COMPLETED, durationMs, JSON.stringify(result ?? null), null);
  }

  async fail(runId: number, durationMs: number, error: unknown): Promise<void> {
    await this.finish(runId, CronRunStatus.FAILED, durationMs, null, describeError(error));
  }

  async recordSkipped(run: CronRunKey): Promise<void> {
    await this.db().query(
      `INSERT INTO ${this.tableName()}
         (job_name, status, scheduled_at, started_at, completed_at, duration_ms, attempt, trigger, worker_id)
       VALUES ($1, 'SKIPPED', $2, now(), now(), 0, $3, $4, $5)
       ON CONFLICT (job_name, scheduled_at) DO NOTHING`,
      [run.jobName, run.scheduledAt, run.attempt, run.trigger, this.workerId],
    );
  }

  async runningRows(): Promise<RunningRow[]> {
    const rows = (await this.db().query(
      `SELECT id, job_name, lock_token FROM ${this.tableName()} WHERE status = 'RUNNING' ORDER BY scheduled_at`,
    )) as { id: string; job_name: string; lock_token: string | null }[];
    return rows.map((row) => ({ id: row.id, jobName: row.job_name, lockToken: row.lock_token }));
  }

  /** Marks a RUNNING row whose worker is gone as FAILED; false if it finished meanwhile. */
  async markLost(id: string, lockTtlMs: number): Promise<boolean> {
    const rows = (await this.db().query(
      `UPDATE ${this.tableName()}
          SET status = 'FAILED', completed_at = now(),
              duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int, error = $2
        WHERE id = $1 AND status = 'RUNNING'
        RETURNING id`,
      [id, workerLost(lockTtlMs)],
    )) as unknown[];
    return rowCount(rows) > 0;
  }

  /** Deletes runs scheduled before `before`; returns how many. */
  async deleteOlderThan(before: Date): Promise<number> {
    const rows = (await this.db().query(
      `DELETE FROM ${this.tableName()} WHERE scheduled_at < $1 AND status <> 'RUNNING' RETURNING id`,
      [before],
    )) as unknown[];
    return rowCount(rows);
  }

  private async finish(
    runId: number,
    status: CronRunStatus,
    durationMs: number,
    result: string | null,
    error: string | null,
  ): Promise<void> {
    await this.db().query(
      `UPDATE ${this.tableName()}
          SET status = $2, completed_at = now(), duration_ms = $3, result = $4::jsonb, error = $5
        WHERE id = $1`,
      [runId, status, Math.round(durationMs), result, error],
    );
  }

  private db(): TrackingDatabase['dataSource'] {
    return this.ready().dataSource;
  }

  private tableName(): string {
    return this.ready().table;
  }

  private ready(): TrackingDatabase {
    if (!this.database) throw new Error('CronRunTracker used before connect()');
    return this.database;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

// pg returns [rows, count] for UPDATE/DELETE ... RETURNING through TypeORM.
function rowCount(result: unknown[]): number {
  if (result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[1];
  return result.length;
}
