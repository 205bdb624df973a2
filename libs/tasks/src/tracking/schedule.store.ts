import type { CronScheduleRecord } from './cron-schedule-record.entity.js';
import type { CronRunStatus } from './cron-run-status.js';

/** A cron as the code declares it, to reconcile cron_schedules with. */
export interface DeclaredSchedule {
  readonly name: string;
  readonly expression: string;
  readonly timeZone: string;
  readonly catchUp: string;
  readonly overlap: string;
  readonly source: string;
  readonly internal: boolean;
  readonly nextTick: number;
}

/** A schedule row with the latest run of its job. */
export interface ScheduleWithLastRun {
  readonly schedule: CronScheduleRecord;
  readonly lastRun: { id: number; status: CronRunStatus; scheduledAt: Date; completedAt: Date | null } | null;
}

/** Who paused a cron and why. */
export interface PauseNote {
  readonly reason?: string;
  readonly by?: string;
}

/**
 * Where a deployment keeps its crons' schedules (definition, pause state,
 * last tick fired). Two backends: `PostgresScheduleStore` (cron_schedules)
 * and `RedisScheduleStore`, for an app whose crons are all untracked and so
 * may have no database. `ScheduleStoreSelector` picks the app's.
 */
export interface ScheduleStore {
  /** Where the schedules live, for log lines. */
  readonly where: string;
  connect(): Promise<void>;
  reconcile(declared: readonly DeclaredSchedule[]): Promise<Map<string, number>>;
  beforeTick(name: string, tick: number, nextTick: number): Promise<{ paused: boolean; previousTick: number | undefined }>;
  pause(name: string, note: PauseNote): Promise<boolean>;
  resume(name: string): Promise<boolean>;
  list(name?: string): Promise<ScheduleWithLastRun[]>;
}
