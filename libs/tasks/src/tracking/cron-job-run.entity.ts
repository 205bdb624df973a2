import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { CronRunStatus, type CronRunTrigger } from './cron-run-status.js';

/**
 * One run of one cron job, one row per (job, tick). Created by the
 * library's migration (TASKS_MIGRATIONS), never by `synchronize`.
 */
@Entity({ name: 'cron_job_runs' })
@Unique('uq_cron_job_runs_job_tick', ['jobName', 'scheduledAt'])
@Index('ix_cron_job_runs_status_scheduled', ['status', 'scheduledAt'])
@Index('ix_cron_job_runs_scheduled', ['scheduledAt'])
export class CronJobRun {
  /** Also the run's fencing token (`CronContext.runId`): it only grows. A bigint, so TypeORM reads it as a string. */
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'job_name', type: 'varchar', length: 200 })
  jobName: string;

  @Column({ type: 'varchar', length: 16 })
  status: CronRunStatus;

  /** The tick this run belongs to (for manual triggers, the moment of the trigger). */
  @Column({ name: 'scheduled_at', type: 'timestamptz' })
  scheduledAt: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @Column({ name: 'duration_ms', type: 'integer', nullable: true })
  durationMs: number | null;

  /** The handler's return value. */
  @Column({ type: 'jsonb', nullable: true })
  result: unknown;

  /** Message and stack of the failure. */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'integer', default: 1 })
  attempt: number;

  @Column({ type: 'varchar', length: 16, default: 'schedule' })
  trigger: CronRunTrigger;

  /** Value of the Redlock lock the run held; lets the sweeper tell a live run from a lost one. */
  @Column({ name: 'lock_token', type: 'varchar', length: 64, nullable: true })
  lockToken: string | null;

  /** Worker host and pid, for "who ran this". */
  @Column({ name: 'worker_id', type: 'varchar', length: 200, nullable: true })
  workerId: string | null;
}
