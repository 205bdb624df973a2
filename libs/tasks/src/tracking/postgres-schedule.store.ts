import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TrackingDatabaseLocator, type TrackingDatabase } from './tracking-database.js';
import type { CronRunStatus } from './cron-run-status.js';
import type { DeclaredSchedule, PauseNote, ScheduleStore, ScheduleWithLastRun } from './schedule.store.js';
import { returnedRows } from './returned-rows.js';

/**
 * The schedule store in Postgres: the cron_schedules rows of this
 * deployment's namespace. The schedulers reconcile them with the code and
 * read the pause flag before every tick; CronRegistry pauses, resumes and lists.
 */
@Injectable()
export class PostgresScheduleStore implements ScheduleStore {
  readonly where = 'cron_schedules';
  private database?: TrackingDatabase;

  constructor(
    private readonly locator: TrackingDatabaseLocator,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
  ) {}

  get namespace(): string {
    return this.options.prefix;
  }

  async connect(): Promise<void> {
    this.database = await this.locator.get();
  }

  /**
   * Makes the rows match the code: one per declared cron (paused state and
   * last tick kept, except that the library's own crons are never left
   * paused), and `removed_at` on crons the code no longer has. Safe
   * with any number of schedulers booting at once: each statement is one
   * upsert in name order. Returns the last tick any scheduler fired, by name.
   */
  async reconcile(declared: readonly DeclaredSchedule[]): Promise<Map<string, number>> {
    const { dataSource, schedulesTable } = await this.ready();
    const sorted = [...declared].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const column = <K extends keyof DeclaredSchedule>(key: K) => sorted.map((cron) => cron[key]);
    if (sorted.length > 0) {
      await dataSource.query(
        `INSERT INTO ${schedulesTable} AS s
           (namespace, name, expression, time_zone, catch_up, overlap, source, internal, next_tick_at, created_at, updated_at)
         SELECT $1, d.name, d.expression, d.time_zone, d.catch_up, d.overlap, d.source, d.internal, d.next_tick, now(), now()
           FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::timestamptz[])
                AS d(name, expression, time_zone, catch_up, overlap, source, internal, next_tick)
         ON CONFLICT (namespace, name) DO UPDATE
           SET expression = EXCLUDED.expression, time_zone = EXCLUDED.time_zone, catch_up = EXCLUDED.catch_up,
               overlap = EXCLUDED.overlap, source = EXCLUDED.source, internal = EXCLUDED.internal,
               next_tick_at = EXCLUDED.next_tick_at, removed_at = NULL, updated_at = now()
           WHERE (s.expression, s.time_zone, s.catch_up, s.overlap, s.source, s.internal)
                   IS DISTINCT FROM (EXCLUDED.expression, EXCLUDED.time_zone, EXCLUDED.catch_up, EXCLUDED.overlap, EXCLUDED.source, EXCLUDED.internal)
              OR s.removed_at IS NOT NULL`,
        [
          this.namespace,
          column('name'),
          column('expression'),
          column('timeZone'),
          column('catchUp'),
          column('overlap'),
          column('source'),
          column('internal'),
          sorted.map((cron) => new Date(cron.nextTick)),
        ],
      );
    }
    await dataSource.query(
      `UPDATE ${schedulesTable} SET removed_at = now(), updated_at = now()
        WHERE namespace = $1 AND removed_at IS NULL AND NOT (name = ANY($2::text[]))`,
      [this.namespace, column('name')],
    );
    // The library's own crons cannot be paused; one an earlier version let someone pause runs again.
    await dataSource.query(
      `UPDATE ${schedulesTable} SET paused = false, paused_reason = NULL, paused_by = NULL, paused_at = NULL, updated_at = now()
        WHERE namespace = $1 AND internal AND paused`,
      [this.namespace],
    );
    const rows = (await dataSource.query(
      `SELECT name, last_tick_at FROM ${schedulesTable} WHERE namespace = $1 AND last_tick_at IS NOT NULL`,
      [this.namespace],
    )) as { name: string; last_tick_at: Date }[];
    return new Map(rows.map((row) => [row.name, row.last_tick_at.getTime()]));
  }

  /**
   * Notes that a scheduler is about to enqueue `tick` (or record it MISSED)
   * and returns whether the cron is paused (a paused cron's ticks are neither
   * enqueued nor recorded) and the last tick any scheduler had noted before:
   * ticks up to it were another replica's to fire. Every replica asks before
   * every tick, so a pause holds everywhere from the next tick on.
   */
  async beforeTick(name: string, tick: number, nextTick: number): Promise<{ paused: boolean; previousTick: number | undefined }> {
    const { dataSource, schedulesTable } = await this.ready();
    const result = (await dataSource.query(
      `WITH previous AS (
         SELECT last_tick_at FROM ${schedulesTable} WHERE namespace = $1 AND name = $2 FOR UPDATE
       )
       UPDATE ${schedulesTable} AS s
          SET last_tick_at = greatest(coalesce(s.last_tick_at, $3), $3), next_tick_at = greatest(coalesce(s.next_tick_at, $4), $4)
         FROM previous
        WHERE s.namespace = $1 AND s.name = $2
        RETURNING s.paused, previous.last_tick_at AS previous_tick`,
      [this.namespace, name, new Date(tick), new Date(nextTick)],
    )) as unknown[];
    const [row] = returnedRows<{ paused: boolean; previous_tick: Date | null }>(result);
    return { paused: row?.paused ?? false, previousTick: row?.previous_tick?.getTime() };
  }

  /** Pauses; returns false when the namespace has no such cron. */
  async pause(name: string, note: PauseNote): Promise<boolean> {
    const { dataSource, schedulesTable } = await this.ready();
    return affected(
      await dataSource.query(
        `UPDATE ${schedulesTable}
            SET paused = true, paused_reason = $3, paused_by = $4,
                paused_at = CASE WHEN paused THEN paused_at ELSE now() END, updated_at = now()
          WHERE namespace = $1 AND name = $2 RETURNING name`,
        [this.namespace, name, note.reason ?? null, note.by ?? null],
      ),
    );
  }

  /** Resumes; returns false when the namespace has no such cron. */
  async resume(name: string): Promise<boolean> {
    const { dataSource, schedulesTable } = await this.ready();
    return affected(
      await dataSource.query(
        `UPDATE ${schedulesTable}
            SET paused = false, paused_reason = NULL, paused_by = NULL, paused_at = NULL, updated_at = now()
          WHERE namespace = $1 AND name = $2 RETURNING name`,
        [this.namespace, name],
      ),
    );
  }

  /** Every schedule row of the namespace (removed ones too), or the one named `name`, with the latest run of each. */
  async list(name?: string): Promise<ScheduleWithLastRun[]> {
    const { dataSource, schedules, table } = await this.ready();
    const rows = await schedules.find({ where: { namespace: this.namespace, ...(name === undefined ? {} : { name }) }, order: { name: 'ASC' } });
    const last = (await dataSource.query(
      `SELECT DISTINCT ON (job_name) id, job_name, status, scheduled_at, completed_at
         FROM ${table} WHERE namespace = $1 AND ($2::text IS NULL OR job_name = $2)
        ORDER BY job_name, scheduled_at DESC, id DESC`,
      [this.namespace, name ?? null],
    )) as { id: string; job_name: string; status: CronRunStatus; scheduled_at: Date; completed_at: Date | null }[];
    const byJob = new Map(last.map((run) => [run.job_name, run]));
    return rows.map((schedule) => {
      const run = byJob.get(schedule.name);
      return {
        schedule,
        lastRun: run ? { id: Number(run.id), status: run.status, scheduledAt: run.scheduled_at, completedAt: run.completed_at } : null,
      };
    });
  }

  private async ready(): Promise<TrackingDatabase> {
    this.database ??= await this.locator.get();
    return this.database;
  }
}

function affected(result: unknown): boolean {
  return returnedRows(result as unknown[]).length > 0;
}
