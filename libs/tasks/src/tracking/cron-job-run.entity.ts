import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { CronRunStatus, type CronRunTrigger } from './cron-run-status.js';

/**
 * One run of one cron job, one row per (namespace, job, tick). Created by the
 * library's migrations (TASKS_MIGRATIONS), never by `synchronize`.
 */
@Entity({ name: 'cron_job_runs' })
@Unique('uq_cron_job_runs_job_tick', ['namespace', 'jobName', 'scheduledAt'])
@Index('ix_cron_job_runs_status_scheduled', ['namespace', 'status', 'scheduledAt'])
@Index('ix_cron_job_runs_scheduled', ['namespace', 'scheduledAt'])
@Index('uq_cron_job_runs_one_running', ['namespace', 'jobName'], { unique: true, where: `status = 'RUNNING' AND exclusive` })
export class CronJobRun {
  /** The row (`CronContext.runId`); the same for every attempt of a tick. A bigint, so TypeORM reads it as a string. */
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  /** The deployment's namespace: its TASKS_PREFIX. */
  @Column({ type: 'text' })
  namespace: string;

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

  /** Fencing token of the attempt that owns the row: fresh and larger for every attempt (`CronContext.fencingToken`). */
  @Column({ name: 'fencing_token', type: 'bigint', nullable: true })
  fencingToken: string | null;

  /** Last time the running worker said it is alive; a RUNNING row silent for longer than `lockTtlMs` is lost. */
  @Column({ name: 'heartbeat_at', type: 'timestamptz', nullable: true })
  heartbeatAt: Date | null;

  /** The liveness bound of this run (the cron's lockTtl when it started). */
  @Column({ name: 'lock_ttl_ms', type: 'integer', nullable: true })
  lockTtlMs: number | null;

  /** False for crons with `overlap: 'allow'`, whose runs may run side by side. */
  @Column({ type: 'boolean', default: true })
  exclusive: boolean;

  /** Handed back at shutdown: another worker reclaims the row and runs the tick again. */
  @Column({ name: 'handed_back', type: 'boolean', default: false })
  handedBack: boolean;

  /** Why a run was SKIPPED or MISSED, or what aborted it. */
  @Column({ type: 'text', nullable: true })
  reason: string | null;

  /** Token of the cron lock the run held; lets the sweeper tell a live run from a lost one. */
  @Column({ name: 'lock_token', type: 'varchar', length: 64, nullable: true })
  lockToken: string | null;

  /** Worker host and pid, for "who ran this". */
  @Column({ name: 'worker_id', type: 'varchar', length: 200, nullable: true })
  workerId: string | null;
}
